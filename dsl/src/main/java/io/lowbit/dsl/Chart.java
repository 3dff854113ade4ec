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
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.CategoryChart;
import org.knowm.xchart.CategoryChartBuilder;
import org.knowm.xchart.style.Styler;

/** A chart drawn in the JVM (no browser, no network): PNG bytes for a notebook, or a file. */
public final class Chart {
  private final CategoryChart chart;

  private Chart(CategoryChart chart) {
    this.chart = chart;
  }

  /**
   * A grouped bar chart of a {@link Table}: one group per numeric column from {@code firstMetric}
   * on, one bar per row, labelled by the row's first cell.
   */
  public static Chart groupedBars(String title, Table t, int firstMetric) {
    System.setProperty("java.awt.headless", "true");
    CategoryChart c = new CategoryChartBuilder().width(720).height(400).title(title).yAxisTitle("value").build();
    c.getStyler().setLegendPosition(Styler.LegendPosition.OutsideS);
    c.getStyler().setChartBackgroundColor(Color.WHITE);
    c.getStyler().setAvailableSpaceFill(0.8);
    List<String> metrics = t.columns().subList(firstMetric, t.columns().size());
    for (List<Object> row : t.rows()) {
      List<Double> values = new ArrayList<>();
      for (int i = firstMetric; i < row.size(); i++)
        values.add(row.get(i) instanceof Number n && Double.isFinite(n.doubleValue()) ? n.doubleValue() : 0.0);
      c.addSeries(String.valueOf(row.get(0)), metrics, values);
    }
    return new Chart(c);
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

  public Path save(Path file) {
    try {
      return Files.write(file, png());
    } catch (IOException e) {
      throw new UncheckedIOException(file + ": " + e.getMessage(), e);
    }
  }

  @Override
  public String toString() {
    return "Chart[" + chart.getTitle() + ", " + chart.getSeriesMap().size() + " series]";
  }
}
