package io.lowbit.bench;

import static io.lowbit.dsl.Lowbit.*;

import io.lowbit.data.DataFiles;
import io.lowbit.dsl.Table;
import io.lowbit.dsl.Task;
import io.lowbit.model.Model;

/**
 * The evaluation suite's end-to-end table ({@code ./lowbit run io.lowbit.bench.EvalTable [limit]}):
 * stories260K on every task with {@code limit} (default 200) items each, and the perplexity sets.
 */
public final class EvalTable {
    private EvalTable() {}

    public static void main(String[] args) {
        int limit = args.length > 0 ? Integer.parseInt(args[0]) : 200;
        try (Model m = load(DataFiles.root().resolve("data/models/stories260K").toString())) {
            Task[] tasks = {
                arcEasy().limit(limit),
                arcChallenge().limit(limit),
                piqa().limit(limit),
                boolq().limit(limit),
                openbookqa().limit(limit),
                hellaswag().limit(limit),
                winogrande().limit(limit),
                lambada().limit(limit),
                gsm8k().limit(limit),
                mmlu().limit(Math.max(1, limit / 57)),
                perplexity(tinystories()),
                perplexity(wikitext2()),
                perplexity(c4())
            };
            Table t = eval(m, tasks);
            System.out.println();
            System.out.println(t);
        }
    }
}
