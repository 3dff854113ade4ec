package io.lowbit.dsl;

import java.awt.Color;
import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.CategoryChart;
import org.knowm.xchart.CategoryChartBuilder;
import org.knowm.xchart.VectorGraphicsEncoder;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;
import org.knowm.xchart.style.Styler;

/** A chart drawn in the JVM (no browser, no network): PNG or SVG for a notebook, or a file. */
public final class Chart {
    private final org.knowm.xchart.internal.chartpart.Chart<?, ?> chart;
    private final int points;

    private Chart(org.knowm.xchart.internal.chartpart.Chart<?, ?> chart, int points) {
        this.chart = chart;
        this.points = points;
    }

    /**
     * A line chart: one line per entry of {@code series} over the shared {@code x} values (for
     * sweeps: perplexity against bits, accuracy against the outlier budget).
     */
    public static Chart lines(
            String title,
            String xTitle,
            String yTitle,
            List<? extends Number> x,
            Map<String, ? extends List<? extends Number>> series) {
        System.setProperty("java.awt.headless", "true");
        XYChart c = new XYChartBuilder()
                .width(720)
                .height(400)
                .title(title)
                .xAxisTitle(xTitle)
                .yAxisTitle(yTitle)
                .build();
        c.getStyler().setLegendPosition(Styler.LegendPosition.OutsideS);
        c.getStyler().setChartBackgroundColor(Color.WHITE);
        int points = 0;
        for (var e : series.entrySet()) {
            if (e.getValue().size() != x.size())
                throw new IllegalArgumentException("series " + e.getKey() + " has "
                        + e.getValue().size() + " values for " + x.size() + " x values");
            c.addSeries(e.getKey(), x, e.getValue());
            points += x.size();
        }
        return new Chart(c, points);
    }

    /** The x axis of every bits trade-off chart. */
    static final String BITS_AXIS = "average bits per weight (papers' count: kept weights at 16 bits)";

    /**
     * A metric's axis title with its unit: "perplexity (per token, lower is better)", "acc (fraction
     * correct)"; other names stay as they are.
     */
    static String metricAxis(String metric) {
        String m = metric.toLowerCase(java.util.Locale.ROOT);
        if (m.endsWith("perplexity")) return metric + " (per token, lower is better)";
        if (m.endsWith("acc") || m.endsWith("acc_norm") || m.endsWith("accuracy"))
            return metric + " (fraction correct)";
        return metric;
    }

    /**
     * A metric against average bits per weight: a line per method or score rule through its points in
     * order of bits, the trade-off a sweep is run to show. {@code points} maps each line to its (bits,
     * value) pairs.
     */
    public static Chart pareto(String title, String metric, Map<String, ? extends List<double[]>> points) {
        System.setProperty("java.awt.headless", "true");
        XYChart c = new XYChartBuilder()
                .width(720)
                .height(400)
                .title(title)
                .xAxisTitle(BITS_AXIS)
                .yAxisTitle(metricAxis(metric))
                .build();
        c.getStyler().setLegendPosition(Styler.LegendPosition.OutsideS);
        c.getStyler().setChartBackgroundColor(Color.WHITE);
        int n = 0;
        for (var e : points.entrySet()) {
            List<double[]> sorted = new ArrayList<>(e.getValue());
            sorted.sort(java.util.Comparator.comparingDouble(p -> p[0]));
            double[] x = new double[sorted.size()], y = new double[sorted.size()];
            for (int i = 0; i < x.length; i++) {
                x[i] = sorted.get(i)[0];
                y[i] = sorted.get(i)[1];
            }
            c.addSeries(e.getKey(), x, y);
            n += x.length;
        }
        return new Chart(c, n);
    }

    /**
     * A grouped bar chart of a {@link Table}: one group per numeric column from {@code firstMetric}
     * on, one bar per row, labelled by the row's first cell; the y axis names the columns' metrics.
     */
    public static Chart groupedBars(String title, Table t, int firstMetric) {
        List<String> axes = new ArrayList<>();
        for (String col : t.columns().subList(firstMetric, t.columns().size())) {
            String a = metricAxis(col.substring(col.lastIndexOf(' ') + 1)); // "arc_easy acc" → "acc (fraction correct)"
            if (!axes.contains(a)) axes.add(a);
        }
        return groupedBars(title, String.join(" · ", axes), t, firstMetric);
    }

    /** {@link #groupedBars(String, Table, int)} with the y axis's title given. */
    public static Chart groupedBars(String title, String yTitle, Table t, int firstMetric) {
        System.setProperty("java.awt.headless", "true");
        CategoryChart c = new CategoryChartBuilder()
                .width(720)
                .height(400)
                .title(title)
                .yAxisTitle(yTitle)
                .build();
        c.getStyler().setLegendPosition(Styler.LegendPosition.OutsideS);
        c.getStyler().setChartBackgroundColor(Color.WHITE);
        c.getStyler().setAvailableSpaceFill(0.8);
        List<String> metrics = t.columns().subList(firstMetric, t.columns().size());
        int points = 0;
        java.util.Set<String> used = new java.util.HashSet<>();
        for (List<Object> row : t.rows()) {
            List<Double> values = new ArrayList<>();
            for (int i = firstMetric; i < row.size(); i++)
                values.add(row.get(i) instanceof Number n && Double.isFinite(n.doubleValue()) ? n.doubleValue() : 0.0);
            String name = String.valueOf(row.get(0));
            for (int n = 2; !used.add(name); n++) name = row.get(0) + " (" + n + ")"; // XChart wants unique names
            c.addSeries(name, metrics, values);
            points += values.size();
        }
        return new Chart(c, points);
    }

    public byte[] png() {
        try {
            BufferedImage img = BitmapEncoder.getBufferedImage(chart);
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            javax.imageio.ImageIO.write(img, "png", out);
            return out.toByteArray();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /**
     * A heat map of {@code counts[row][column]} (e.g. kept weights per block of a matrix): rows go up
     * the y axis, columns along x.
     */
    public static Chart heatmap(String title, String xTitle, String yTitle, long[][] counts) {
        System.setProperty("java.awt.headless", "true");
        org.knowm.xchart.HeatMapChart c = new org.knowm.xchart.HeatMapChartBuilder()
                .width(720)
                .height(480)
                .title(title)
                .xAxisTitle(xTitle)
                .yAxisTitle(yTitle)
                .build();
        c.getStyler().setChartBackgroundColor(Color.WHITE);
        c.getStyler().setLegendVisible(true);
        int rows = counts.length, cols = rows == 0 ? 0 : counts[0].length;
        int[] x = new int[cols], y = new int[rows];
        for (int i = 0; i < cols; i++) x[i] = i;
        for (int i = 0; i < rows; i++) y[i] = i;
        int[][] heat = new int[cols][rows]; // XChart reads heat[x][y]
        for (int r = 0; r < rows; r++) for (int col = 0; col < cols; col++) heat[col][r] = (int) counts[r][col];
        c.addSeries(title, x, y, heat);
        return new Chart(c, rows * cols);
    }

    /** The chart as SVG text (crisp at any size; large for charts with many points). */
    public String svg() {
        try {
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            VectorGraphicsEncoder.saveVectorGraphic(chart, out, VectorGraphicsEncoder.VectorGraphicsFormat.SVG);
            return out.toString(java.nio.charset.StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** How many data points are drawn (a notebook sends SVG too only for small charts). */
    public int points() {
        return points;
    }

    public String title() {
        return chart.getTitle();
    }

    public String xTitle() {
        return switch (chart) {
            case XYChart c -> c.getXAxisTitle();
            case CategoryChart c -> c.getXAxisTitle();
            case org.knowm.xchart.HeatMapChart c -> c.getXAxisTitle();
            default -> "";
        };
    }

    public String yTitle() {
        return switch (chart) {
            case XYChart c -> c.getYAxisTitle();
            case CategoryChart c -> c.getYAxisTitle();
            case org.knowm.xchart.HeatMapChart c -> c.getYAxisTitle();
            default -> "";
        };
    }

    /** Each line's (x, y) points as drawn, for a line chart; empty for bars and heat maps. */
    public Map<String, List<double[]>> series() {
        Map<String, List<double[]>> out = new java.util.LinkedHashMap<>();
        if (chart instanceof XYChart xy)
            for (var series : xy.getSeriesCollection()) {
                double[] x = series.getXData(), y = series.getYData();
                List<double[]> ps = new ArrayList<>();
                for (int i = 0; i < x.length; i++) ps.add(new double[] {x[i], y[i]});
                out.put(series.getName(), ps);
            }
        return out;
    }

    /** Writes PNG, or SVG when the name ends in .svg. */
    public Path save(Path file) {
        try {
            if (file.toString().endsWith(".svg")) return Files.writeString(file, svg());
            return Files.write(file, png());
        } catch (IOException e) {
            throw new UncheckedIOException(file + ": " + e.getMessage(), e);
        }
    }

    @Override
    public String toString() {
        return "Chart[" + chart.getTitle() + ", " + points + " points]";
    }
}
