package io.lowbit.dsl;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/** An immutable result table: prints as aligned text, renders as HTML in a notebook. */
public final class Table {
  private final String title;
  private final List<String> columns;
  private final List<List<Object>> rows;

  private Table(String title, List<String> columns, List<List<Object>> rows) {
    this.title = title;
    this.columns = List.copyOf(columns);
    this.rows = rows.stream().map(r -> java.util.Collections.unmodifiableList(new ArrayList<>(r))).toList();
  }

  public static Table of(String title, List<String> columns, List<List<Object>> rows) {
    for (List<Object> r : rows)
      if (r.size() != columns.size()) throw new IllegalArgumentException("row " + r + " has " + r.size() + " cells, table has " + columns.size() + " columns");
    return new Table(title, columns, rows);
  }

  public String title() { return title; }
  public List<String> columns() { return columns; }
  public List<List<Object>> rows() { return rows; }

  /** The cell in {@code row} under {@code column}. */
  public Object get(int row, String column) {
    int c = columns.indexOf(column);
    if (c < 0) throw new IllegalArgumentException("no column '" + column + "' in " + columns);
    return rows.get(row).get(c);
  }

  /** Rows of both tables under the same columns. */
  public Table concat(Table other) {
    if (!columns.equals(other.columns)) throw new IllegalArgumentException("columns differ: " + columns + " vs " + other.columns);
    List<List<Object>> all = new ArrayList<>(rows);
    all.addAll(other.rows);
    return new Table(title, columns, all);
  }

  static String format(Object v) {
    if (v == null) return "";
    if (v instanceof Double d) {
      if (d.isNaN() || d.isInfinite()) return d.toString();
      double a = Math.abs(d);
      if (a != 0 && (a < 1e-3 || a >= 1e7)) return String.format(Locale.ROOT, "%.4g", d);
      return String.format(Locale.ROOT, "%.4f", d);
    }
    if (v instanceof Float f) return format(f.doubleValue());
    return v.toString();
  }

  @Override
  public String toString() {
    int n = columns.size();
    int[] w = new int[n];
    boolean[] numeric = new boolean[n];
    for (int c = 0; c < n; c++) {
      w[c] = columns.get(c).length();
      numeric[c] = !rows.isEmpty();
      for (List<Object> r : rows) {
        w[c] = Math.max(w[c], format(r.get(c)).length());
        numeric[c] &= r.get(c) instanceof Number;
      }
    }
    StringBuilder sb = new StringBuilder();
    if (title != null && !title.isEmpty()) sb.append(title).append('\n');
    line(sb, columns.stream().map(x -> (Object) x).toList(), w, numeric);
    for (int c = 0; c < n; c++) sb.append(c == 0 ? "" : "  ").append("-".repeat(w[c]));
    sb.append('\n');
    for (List<Object> r : rows) line(sb, r, w, numeric);
    return sb.toString();
  }

  /** Numbers (and the headers of number columns) right-aligned; no trailing spaces. */
  private static void line(StringBuilder sb, List<Object> cells, int[] w, boolean[] numeric) {
    StringBuilder l = new StringBuilder();
    for (int c = 0; c < w.length; c++) {
      String s = format(cells.get(c));
      if (c > 0) l.append("  ");
      boolean right = numeric[c] || cells.get(c) instanceof Number;
      l.append(right ? " ".repeat(w[c] - s.length()) + s : s + " ".repeat(w[c] - s.length()));
    }
    sb.append(l.toString().stripTrailing()).append('\n');
  }

  public String toHtml() {
    StringBuilder sb = new StringBuilder("<table class=\"lowbit\">");
    if (title != null && !title.isEmpty()) sb.append("<caption>").append(escape(title)).append("</caption>");
    sb.append("<thead><tr>");
    for (String c : columns) sb.append("<th>").append(escape(c)).append("</th>");
    sb.append("</tr></thead><tbody>");
    for (List<Object> r : rows) {
      sb.append("<tr>");
      for (Object v : r)
        sb.append(v instanceof Number ? "<td style=\"text-align:right\">" : "<td>").append(escape(format(v))).append("</td>");
      sb.append("</tr>");
    }
    return sb.append("</tbody></table>").toString();
  }

  private static String escape(String s) {
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\"", "&quot;");
  }
}
