package io.lowbit.dsl;

import io.lowbit.model.Model;
import io.lowbit.quant.QuantizedModel;
import java.util.ArrayList;
import java.util.List;

/** A table of results and a chart of them: a comparison of models, or TesseraQ's reconstruction. */
public record Comparison(Table table, Chart chart) {
  /** A row per model (its average bits, a column per task metric) and a grouped bar chart of the metrics. */
  static Comparison of(List<?> models, Task... tasks) {
    Table t = table(models, tasks);
    return new Comparison(t, Chart.groupedBars("compare", t, 2));
  }

  private static Table table(List<?> models, Task... tasks) {
    List<String> columns = new ArrayList<>(List.of("model", "bits"));
    List<List<Object>> rows = new ArrayList<>();
    for (Object o : models) {
      Table t = switch (o) {
        case QuantizedModel q -> Evaluate.table(q, tasks);
        case Model m -> Evaluate.table(m, tasks);
        default -> throw new IllegalArgumentException("compare takes models, not " + o.getClass().getSimpleName());
      };
      List<Object> row = new ArrayList<>();
      row.add(t.rows().isEmpty() ? o.toString() : t.rows().get(0).get(0));
      row.add(o instanceof QuantizedModel q ? q.paperBits() : (double) (((Model) o).dtype().bytes * 8));
      for (List<Object> r : t.rows()) {
        String col = r.get(1) + " " + r.get(2);
        if (rows.isEmpty()) columns.add(col);
        row.add(r.get(3));
      }
      rows.add(row);
    }
    return Table.of("compare", columns, rows);
  }

  @Override
  public String toString() {
    return table.toString();
  }
}
