package io.lowbit.dsl;

import io.lowbit.eval.Gsm8k;
import io.lowbit.eval.Mmlu;
import io.lowbit.eval.MultipleChoice;
import io.lowbit.eval.Perplexity;
import io.lowbit.eval.Spider;
import io.lowbit.model.Model;
import io.lowbit.model.Progress;
import io.lowbit.quant.QuantizedModel;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/** Runs tasks on a model into table rows (model, task, metric, value, n, seconds), cached per model fingerprint and settings. */
final class Evaluate {
    private Evaluate() {}

    static final List<String> COLUMNS =
            List.of("model", "task", "metric", "value", "n", "seconds", "settings", "fingerprint");

    /** Rows of the most recent runs ({@link Caches.Limits#results()}): re-running a notebook cell does not recompute. */
    private static final BoundedCache<List<List<Object>>> CACHE =
            new BoundedCache<>(() -> Caches.limits().results(), () -> Long.MAX_VALUE, rows -> 0, rows -> {});

    static void clearCache() {
        CACHE.clear();
    }

    static int cached() {
        return CACHE.size();
    }

    /** A row per metric of each task, labelled with the model's name. */
    static Table table(Model m, Task... tasks) {
        return table(m, m.name(), tasks);
    }

    /**
     * The quantized model's dense weights, labelled with its method, options, grid and the share of
     * weights kept; cached per quantized model (two sets of options never share a result).
     */
    static Table table(QuantizedModel q, Task... tasks) {
        String kept = q.kept() == 0 ? "" : String.format(Locale.ROOT, ", %.2f%% kept", 100.0 * q.kept() / q.weights());
        return table(q.model(), q.fingerprint(), q.model().name() + " " + q.label() + kept, tasks);
    }

    private static Table table(Model m, String label, Task... tasks) {
        return table(m, m.fingerprint(), label, tasks); // one pass over the weights, whatever the number of tasks
    }

    private static Table table(Model m, String fingerprint, String label, Task... tasks) {
        List<List<Object>> rows = new ArrayList<>();
        for (Task t : tasks) rows.addAll(rows(m, fingerprint, label, t, Lowbit.progress()));
        return Table.of("eval", COLUMNS, rows);
    }

    /** {@code fingerprint} is {@link Model#fingerprint()}, computed once by the caller for all its tasks. */
    static List<List<Object>> rows(Model m, String fingerprint, String label, Task task, Progress progress) {
        String key = fingerprint + " | " + task;
        List<List<Object>> cached = CACHE.get(key);
        if (cached == null) {
            cached = compute(m, task, progress);
            CACHE.put(key, cached);
        }
        List<List<Object>> out = new ArrayList<>();
        for (List<Object> r : cached) {
            List<Object> row = new ArrayList<>(r);
            row.add(0, label);
            row.add(task.toString());
            row.add(fingerprint);
            out.add(row);
        }
        return out;
    }

    private static List<List<Object>> compute(Model m, Task task, Progress progress) {
        List<List<Object>> rows = new ArrayList<>();
        switch (task) {
            case Task.Perplexity p -> {
                Perplexity.Options d = Perplexity.Options.defaults(m);
                int window = p.window() > 0 ? p.window() : d.window();
                int batch = p.batch() > 0 ? p.batch() : Perplexity.Options.defaultBatch(m, window);
                var r = Perplexity.of(
                        m,
                        p.text().name(),
                        p.text().contents(),
                        new Perplexity.Options(window, batch, p.maxWindows()),
                        progress);
                rows.add(
                        List.of(r.text(), "perplexity", r.perplexity(), r.windows() + " × " + r.window(), r.seconds()));
            }
            case Task.Choice c -> {
                var r = MultipleChoice.run(m, c.task(), c.limit(), c.seed(), progress);
                rows.add(List.of(c.task().label, "acc", r.acc(), (long) r.n(), r.seconds()));
                if (!Double.isNaN(r.accNorm()))
                    rows.add(List.of(c.task().label, "acc_norm", r.accNorm(), (long) r.n(), r.seconds()));
                if (!Double.isNaN(r.perplexity()))
                    rows.add(List.of(c.task().label, "perplexity", r.perplexity(), (long) r.n(), r.seconds()));
            }
            case Task.Gsm8k g -> {
                var r = Gsm8k.run(m, g.options(), progress);
                rows.add(List.of("gsm8k", "accuracy", r.accuracy(), (long) r.n(), r.seconds()));
            }
            case Task.Mmlu q -> {
                var r = Mmlu.run(m, q.fraction(), q.limit(), progress);
                rows.add(List.of("mmlu", "accuracy", r.accuracy(), (long) r.n(), r.seconds()));
                for (var e : r.groups().entrySet())
                    rows.add(List.of(
                            "mmlu " + e.getKey(),
                            "accuracy",
                            e.getValue()[0] / e.getValue()[1],
                            (long) e.getValue()[1],
                            r.seconds()));
            }
            case Task.Spider q -> {
                var r = Spider.run(m, q.options(), progress);
                String name = "spider (" + r.coverage() + ")";
                rows.add(List.of(name, "execution accuracy", r.accuracy(), (long) r.evaluated(), r.seconds()));
                rows.add(List.of(name, "errors", (double) r.errors(), (long) r.evaluated(), r.seconds()));
                rows.add(List.of(name, "timeouts", (double) r.timeouts(), (long) r.evaluated(), r.seconds()));
                long n = r.evaluated();
                if (r.tooManyRows() > 0)
                    rows.add(List.of(name, "over the row cap", (double) r.tooManyRows(), n, r.seconds()));
                if (r.skipped() > 0)
                    rows.add(List.of(
                            name, "skipped (no database)", (double) r.skipped(), (long) r.skipped(), r.seconds()));
                if (r.truncated() > 0)
                    rows.add(List.of(name, "prompts cut to fit", (double) r.truncated(), n, r.seconds()));
                for (var e : r.byLevel().entrySet())
                    if (e.getValue()[1] > 0)
                        rows.add(List.of(
                                "spider " + e.getKey(),
                                "execution accuracy",
                                (double) e.getValue()[0] / e.getValue()[1],
                                (long) e.getValue()[1],
                                r.seconds()));
            }
        }
        return rows;
    }
}
