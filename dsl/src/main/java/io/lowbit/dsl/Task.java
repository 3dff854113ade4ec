package io.lowbit.dsl;

import io.lowbit.eval.MultipleChoice;

/** Something {@link Lowbit#eval} measures on a model; each renders its settings, which key the result cache. */
public sealed interface Task permits Task.Perplexity, Task.Choice, Task.Gsm8k, Task.Mmlu, Task.Spider {

    /** Perplexity on a text, by the data README's protocol; window and batch 0 mean the defaults. */
    record Perplexity(Text text, int window, int batch, int maxWindows) implements Task {
        /** Windows of {@code tokens} tokens instead of the model's context. */
        public Perplexity window(int tokens) {
            return new Perplexity(text, tokens, batch, maxWindows);
        }

        /** Only the first {@code n} windows (a quick look). */
        public Perplexity first(int n) {
            return new Perplexity(text, window, batch, n);
        }

        @Override
        public String toString() {
            return "perplexity " + text.name() + " window=" + window + " first=" + maxWindows;
        }
    }

    /** A multiple-choice set (acc, acc_norm) or LAMBADA (acc, perplexity); limit 0 is all, drawn with the seed. */
    record Choice(MultipleChoice.Task task, int limit, long seed) implements Task {
        /** All items, seed 1234 (what a limit draws with). */
        static Choice of(MultipleChoice.Task task) {
            return new Choice(task, 0, 1234);
        }

        public Choice limit(int n) {
            return new Choice(task, n, seed);
        }

        public Choice seed(long s) {
            return new Choice(task, limit, s);
        }

        @Override
        public String toString() {
            return task.label + " limit=" + limit + " seed=" + seed;
        }
    }

    /** GSM8K 8-shot CoT, greedy unless {@link #sampled()}; the first {@code limit} test questions (0: all). */
    record Gsm8k(io.lowbit.eval.Gsm8k.Options options) implements Task {
        public Gsm8k limit(int n) {
            return new Gsm8k(options.limit(n));
        }

        /** The paper's decoding: temperature 0.8, top-p 0.95. */
        public Gsm8k sampled() {
            return new Gsm8k(options.sampled());
        }

        @Override
        public String toString() {
            return "gsm8k " + options;
        }
    }

    /** MMLU 5-shot on the last {@code fraction} of each subject's test split, at most {@code limit} per subject (0: all). */
    record Mmlu(double fraction, int limit) implements Task {
        public Mmlu limit(int n) {
            return new Mmlu(fraction, n);
        }

        /** The whole test split instead of its last quarter. */
        public Mmlu wholeSplit() {
            return new Mmlu(1.0, limit);
        }

        @Override
        public String toString() {
            return "mmlu fraction=" + fraction + " limit=" + limit;
        }
    }

    /**
     * Spider dev execution accuracy, greedy; by default the 15 databases not used by
     * {@code calibrateSpider}, the first {@code limit} questions drawn with a seed (0: all).
     */
    record Spider(io.lowbit.eval.Spider.Options options) implements Task {
        public Spider limit(int n) {
            return new Spider(options.limit(n));
        }

        /** Every executable dev question (972 of 1,034 while wta_1's database is missing), calibrated on or not. */
        public Spider allDatabases() {
            return new Spider(options.split(io.lowbit.eval.Spider.Split.ALL));
        }

        /** At most {@code n} new tokens per question instead of TaCQ's 2048 (a query rarely needs 100). */
        public Spider maxNewTokens(int n) {
            return new Spider(options.maxNewTokens(n));
        }

        @Override
        public String toString() {
            return "spider " + options;
        }
    }
}
