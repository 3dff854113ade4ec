package io.lowbit.dsl;

import io.lowbit.data.Calibration;
import io.lowbit.eval.TaskCalibration;
import io.lowbit.model.Model;
import io.lowbit.model.Tokenizer;

/** Calibration sets cut with a model's tokenizer from a text or a task's data. */
final class Calibrations {
    private Calibrations() {}

    /** The first {@code n} windows of the model's context, capped at 2048 tokens. */
    static Calibration firstWindows(Model m, Text text, int n) {
        return firstWindows(m, text, n, Math.min(m.config().maxPositions(), 2048));
    }

    static Calibration firstWindows(Model m, Text text, int n, int length) {
        return Calibration.firstWindows(text.name(), tokenizer(m), text.contents(), n, length);
    }

    static Calibration sampledWindows(Model m, Text text, int n, int length, long seed) {
        return Calibration.sampledWindows(text.name(), tokenizer(m), text.contents(), n, length, seed);
    }

    /** {@code sequences} × {@code length} tokens of whole GSM8K train examples. */
    static Calibration gsm8k(Model m, int sequences, int length, long seed) {
        return TaskCalibration.gsm8k(tokenizer(m), (long) sequences * length, length, seed);
    }

    /** {@code sequences} × {@code length} tokens of whole MMLU examples of one subject group. */
    static Calibration mmlu(Model m, String group, int sequences, int length, long seed) {
        return TaskCalibration.mmlu(tokenizer(m), group, (long) sequences * length, length, seed);
    }

    /** Up to {@code sequences} × {@code length} tokens of Spider prompts from the databases kept out of evaluation. */
    static Calibration spider(Model m, int sequences, int length, long seed) {
        return TaskCalibration.spider(tokenizer(m), (long) sequences * length, length, seed);
    }

    private static Tokenizer tokenizer(Model m) {
        if (m.tokenizer() == null) throw new IllegalArgumentException(m.name() + " has no tokenizer to cut text with");
        return m.tokenizer();
    }
}
