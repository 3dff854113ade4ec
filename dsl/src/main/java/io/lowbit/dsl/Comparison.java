package io.lowbit.dsl;

import io.lowbit.model.Model;
import io.lowbit.quant.QuantizedModel;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** A table of results and a chart of them: a comparison of models, or TesseraQ's reconstruction. */
public record Comparison(Table table, Chart chart) {
    /**
     * A row per model (its average bits, a column per task metric) and a grouped bar chart of the
     * metrics, titled with the tasks; each model's eval is a step of one progress display.
     */
    static Comparison of(List<?> models, Task... tasks) {
        List<String> taskNames = new ArrayList<>();
        Table t = table(models, taskNames, tasks);
        return new Comparison(t, Chart.groupedBars("models compared on " + String.join(", ", taskNames), t, 2));
    }

    /**
     * Each model's first metric of {@code task} against its average bits, a line per method (a model
     * with kept weights is its own method; unquantized models are points named by their dtype).
     */
    static Chart pareto(List<?> models, Task task) {
        List<String> taskNames = new ArrayList<>();
        Table t = table(models, taskNames, task);
        Map<String, List<double[]>> points = new LinkedHashMap<>();
        for (int i = 0; i < models.size(); i++) {
            String line = switch (models.get(i)) {
                case QuantizedModel q -> q.method().name() + (q.kept() > 0 ? " + kept weights" : "");
                case Model m -> "unquantized " + m.dtype();
                default -> throw new IllegalStateException();
            };
            List<Object> row = t.rows().get(i);
            points.computeIfAbsent(line, k -> new ArrayList<>())
                    .add(new double[] {((Number) row.get(1)).doubleValue(), ((Number) row.get(2)).doubleValue()});
        }
        String column = t.columns().get(2), task0 = taskNames.get(0);
        String metric = column.substring(task0.length() + 1); // columns read "<task> <metric>"
        return Chart.pareto(task0 + ": " + metric + " against average bits", metric, points);
    }

    /** The table; {@code taskNames} receives each task's name as eval reports it ("tinystories-val", "arc_easy"). */
    private static Table table(List<?> models, List<String> taskNames, Task... tasks) {
        List<String> columns = new ArrayList<>(List.of("model", "bits"));
        List<List<Object>> rows = new ArrayList<>();
        try (var steps = ProgressDisplay.steps("compare", models.size())) {
            for (Object o : models) {
                Table t = switch (o) {
                    case QuantizedModel q -> {
                        steps.next(q.model().name() + " " + q.method() + " " + q.grid());
                        yield Evaluate.table(q, tasks);
                    }
                    case Model m -> {
                        steps.next(m.name());
                        yield Evaluate.table(m, tasks);
                    }
                    default ->
                        throw new IllegalArgumentException(
                                "compare takes models, not " + o.getClass().getSimpleName());
                };
                List<Object> row = new ArrayList<>();
                row.add(t.rows().isEmpty() ? o.toString() : t.rows().get(0).get(0));
                row.add(o instanceof QuantizedModel q ? q.paperBits() : (double) (((Model) o).dtype().bytes * 8));
                for (List<Object> r : t.rows()) {
                    String col = r.get(1) + " " + r.get(2);
                    if (rows.isEmpty()) columns.add(col);
                    if (rows.isEmpty() && !taskNames.contains(String.valueOf(r.get(1))))
                        taskNames.add(String.valueOf(r.get(1)));
                    row.add(r.get(3));
                }
                rows.add(row);
            }
        }
        return Table.of("compare", columns, rows);
    }

    @Override
    public String toString() {
        return table.toString();
    }
}
