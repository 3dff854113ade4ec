package io.lowbit.dsl;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
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
        this.rows = rows.stream()
                .map(r -> java.util.Collections.unmodifiableList(new ArrayList<>(r)))
                .toList();
    }

    public static Table of(String title, List<String> columns, List<List<Object>> rows) {
        for (List<Object> r : rows)
            if (r.size() != columns.size())
                throw new IllegalArgumentException(
                        "row " + r + " has " + r.size() + " cells, table has " + columns.size() + " columns");
        return new Table(title, columns, rows);
    }

    public String title() {
        return title;
    }

    public List<String> columns() {
        return columns;
    }

    public List<List<Object>> rows() {
        return rows;
    }

    /** The cell in {@code row} under {@code column}. */
    public Object get(int row, String column) {
        int c = columns.indexOf(column);
        if (c < 0) throw new IllegalArgumentException("no column '" + column + "' in " + columns);
        return rows.get(row).get(c);
    }

    /** Rows of both tables under the same columns. */
    public Table concat(Table other) {
        if (!columns.equals(other.columns))
            throw new IllegalArgumentException("columns differ: " + columns + " vs " + other.columns);
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

    // ---------------------------------------------------------------- files

    /** Saves as CSV (file name ending .csv) or JSON (.json, with the title); numbers at full precision. */
    public Path save(Path file) {
        String name = file.getFileName().toString();
        try {
            if (name.endsWith(".json")) {
                com.google.gson.JsonObject j = new com.google.gson.JsonObject();
                j.addProperty("title", title);
                j.add("columns", new com.google.gson.Gson().toJsonTree(columns));
                com.google.gson.JsonArray rs = new com.google.gson.JsonArray();
                for (List<Object> r : rows) {
                    com.google.gson.JsonArray a = new com.google.gson.JsonArray();
                    for (Object v : r) {
                        if (v instanceof Number n) a.add(n);
                        else if (v == null) a.add(com.google.gson.JsonNull.INSTANCE);
                        else a.add(v.toString());
                    }
                    rs.add(a);
                }
                j.add("rows", rs);
                return Files.writeString(
                        file,
                        new com.google.gson.GsonBuilder()
                                .serializeSpecialFloatingPointValues()
                                .setPrettyPrinting()
                                .create()
                                .toJson(j));
            }
            if (!name.endsWith(".csv")) throw new IllegalArgumentException(file + ": save as .csv or .json");
            StringBuilder sb = new StringBuilder();
            csvLine(sb, new ArrayList<>(columns));
            for (List<Object> r : rows) csvLine(sb, r);
            return Files.writeString(file, sb);
        } catch (IOException e) {
            throw new UncheckedIOException(file + ": " + e.getMessage(), e);
        }
    }

    /** Reads what {@link #save} wrote; whole numbers come back as Long, others as Double. */
    public static Table load(Path file) {
        try {
            String text = Files.readString(file);
            if (file.getFileName().toString().endsWith(".json")) {
                com.google.gson.JsonObject j =
                        com.google.gson.JsonParser.parseString(text).getAsJsonObject();
                List<String> cols = new ArrayList<>();
                j.getAsJsonArray("columns").forEach(e -> cols.add(e.getAsString()));
                List<List<Object>> rs = new ArrayList<>();
                for (var row : j.getAsJsonArray("rows")) {
                    List<Object> r = new ArrayList<>();
                    for (var v : row.getAsJsonArray())
                        r.add(
                                v.isJsonNull()
                                        ? null
                                        : v.getAsJsonPrimitive().isNumber()
                                                ? number(v.getAsString())
                                                : v.getAsString());
                    rs.add(r);
                }
                return of(
                        j.has("title") && !j.get("title").isJsonNull()
                                ? j.get("title").getAsString()
                                : "",
                        cols,
                        rs);
            }
            List<List<String>> lines = io.lowbit.eval.CsvFiles.parse(text);
            List<List<Object>> rs = new ArrayList<>();
            for (List<String> l : lines.subList(1, lines.size())) {
                List<Object> r = new ArrayList<>();
                for (String v : l) r.add(number(v));
                rs.add(r);
            }
            return of(file.getFileName().toString(), lines.get(0), rs);
        } catch (IOException e) {
            throw new UncheckedIOException(file + ": " + e.getMessage(), e);
        }
    }

    private static Object number(String v) {
        if (v.matches("-?\\d{1,18}")) return Long.parseLong(v);
        if (v.matches("-?(\\d+\\.\\d*|\\d*\\.\\d+)([eE][-+]?\\d+)?|-?\\d+[eE][-+]?\\d+|NaN|-?Infinity"))
            return Double.parseDouble(v);
        return v;
    }

    private static void csvLine(StringBuilder sb, List<Object> cells) {
        for (int i = 0; i < cells.size(); i++) {
            if (i > 0) sb.append(',');
            Object v = cells.get(i);
            String s = v == null ? "" : v.toString();
            if (s.contains(",") || s.contains("\"") || s.contains("\n")) s = "\"" + s.replace("\"", "\"\"") + "\"";
            sb.append(s);
        }
        sb.append('\n');
    }

    public String toHtml() {
        StringBuilder sb = new StringBuilder("<table class=\"lowbit\">");
        if (title != null && !title.isEmpty())
            sb.append("<caption>").append(escape(title)).append("</caption>");
        sb.append("<thead><tr>");
        for (String c : columns) sb.append("<th>").append(escape(c)).append("</th>");
        sb.append("</tr></thead><tbody>");
        for (List<Object> r : rows) {
            sb.append("<tr>");
            for (Object v : r)
                sb.append(v instanceof Number ? "<td style=\"text-align:right\">" : "<td>")
                        .append(escape(format(v)))
                        .append("</td>");
            sb.append("</tr>");
        }
        return sb.append("</tbody></table>").toString();
    }

    /** Text safe inside HTML (also what the notebook kernel uses for its own HTML). */
    public static String escape(String s) {
        return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\"", "&quot;");
    }
}
