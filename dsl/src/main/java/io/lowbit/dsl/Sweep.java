package io.lowbit.dsl;

import io.lowbit.data.Calibration;
import io.lowbit.model.Model;
import io.lowbit.quant.Grid;
import io.lowbit.quant.QuantizedModel;
import io.lowbit.quant.Saliency.Score;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A sweep's table (a row per rule, budget and bit width) and its chart: the metric against average
 * bits, a line per rule ({@link Chart#pareto}).
 */
public record Sweep(Table table, Chart chart) {
    /**
     * For each rule, bit width and budget: keep the top p % globally, masked GPTQ on the MSE grid, and
     * the task's first metric. A budget of 0 is plain GPTQ, which is TaCQ's Q_ref and stays cached.
     * The whole sweep reports to one progress display, a step per row.
     */
    static Sweep run(Model m, Calibration cal, Task task, List<Double> percents, List<Integer> bits, Score... rules) {
        if (rules.length == 0) rules = new Score[] {Score.TACQ};
        List<List<Object>> rows = new ArrayList<>();
        Map<String, List<double[]>> points = new LinkedHashMap<>();
        String metric = null, taskName = null;
        try (var steps = ProgressDisplay.steps("sweep", rules.length * bits.size() * percents.size())) {
            for (Score rule : rules) {
                List<double[]> line = points.computeIfAbsent(rule.name(), k -> new ArrayList<>());
                for (int b : bits) {
                    Grid grid = Grid.bits(b).mse();
                    for (double p : percents) {
                        steps.next(rule.name() + " W" + b + " " + Tacq.percent(p));
                        QuantizedModel q = p == 0
                                ? Tacq.reference(m, cal, grid, Lowbit.progress())
                                : Lowbit.quantize(
                                        m,
                                        grid,
                                        Lowbit.GPTQ,
                                        cal,
                                        Kept.of(Scores.of(m, cal, rule, grid), p, KeepScope.GLOBAL));
                        try {
                            List<Object> r = Evaluate.table(q, task).rows().get(0);
                            taskName = String.valueOf(r.get(1));
                            metric = String.valueOf(r.get(2));
                            double value = ((Number) r.get(3)).doubleValue();
                            rows.add(List.of(rule.name(), p, b, q.paperBits(), q.storageBits(), value));
                            line.add(new double[] {q.paperBits(), value});
                        } finally {
                            if (p != 0) q.close(); // Q_ref stays cached
                        }
                    }
                }
            }
        }
        List<String> columns =
                List.of("score", "kept %", "bits", "bits (papers)", "bits (storage)", String.valueOf(metric));
        Table t = Table.of("sweep", columns, rows);
        String title = taskName + ": " + metric + " against average bits, a line per score rule";
        return new Sweep(t, Chart.pareto(title, String.valueOf(metric), points));
    }

    @Override
    public String toString() {
        return table.toString();
    }
}
