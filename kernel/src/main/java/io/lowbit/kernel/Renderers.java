package io.lowbit.kernel;

import io.github.spencerpark.jupyter.kernel.display.DisplayData;
import io.github.spencerpark.jupyter.kernel.display.Renderer;
import io.github.spencerpark.jupyter.kernel.display.mime.MIMEType;
import io.lowbit.dsl.Chart;
import io.lowbit.dsl.Comparison;
import io.lowbit.dsl.Kept;
import io.lowbit.dsl.Sweep;
import io.lowbit.dsl.Table;
import io.lowbit.model.Generation;
import java.awt.image.RenderedImage;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.function.BooleanSupplier;
import javax.imageio.ImageIO;

/**
 * How values show in a notebook. Tables: HTML and text. Charts: PNG, plus SVG when small, drawn
 * in the JVM. Images: PNG whose bytes are whole (the base kernel's encoder cuts the last bytes).
 * tablesaw tables as HTML; tablesaw Figures as self-contained Plotly HTML when {@code %plotly on}.
 * No output refers to anything on a network.
 */
final class Renderers {
    /** SVG goes along with PNG up to this many data points (more would make a large SVG). */
    static final int SVG_MAX_POINTS = 2000;

    private final Renderer renderer;
    private BooleanSupplier plotly = () -> false;
    private boolean plotlyInlined;

    Renderers(Renderer renderer) {
        this.renderer = renderer;
        renderer.createRegistration(Table.class)
                .preferring(MIMEType.TEXT_HTML, MIMEType.TEXT_PLAIN)
                .register((t, ctx) -> {
                    ctx.renderIfRequested(MIMEType.TEXT_HTML, t::toHtml);
                    ctx.renderIfRequested(MIMEType.TEXT_PLAIN, t::toString);
                });
        renderer.createRegistration(Chart.class)
                .preferring(MIMEType.IMAGE_PNG, MIMEType.IMAGE_SVG)
                .register((c, ctx) -> putChart(ctx.getOutputContainer(), c));
        renderer.createRegistration(Comparison.class)
                .preferring(MIMEType.TEXT_HTML)
                .register((c, ctx) -> putTableWithChart(ctx.getOutputContainer(), c.table(), c.chart()));
        renderer.createRegistration(Kept.class).preferring(MIMEType.TEXT_HTML).register((k, ctx) -> {
            ctx.getOutputContainer()
                    .putHTML("<p>" + escape(k.toString().lines().findFirst().orElse("")) + "</p>"
                            + k.table().toHtml());
            ctx.getOutputContainer().putText(k.toString());
        });
        renderer.createRegistration(Sweep.class)
                .preferring(MIMEType.TEXT_HTML)
                .register((w, ctx) -> putTableWithChart(ctx.getOutputContainer(), w.table(), w.chart()));
        renderer.createRegistration(Generation.Completion.class)
                .preferring(MIMEType.TEXT_HTML)
                .register((c, ctx) -> {
                    ctx.getOutputContainer()
                            .putHTML("<pre style=\"white-space:pre-wrap\"><b>" + escape(c.prompt()) + "</b>"
                                    + escape(c.text()) + "</pre>");
                    ctx.getOutputContainer().putText(c.prompt() + c.text());
                });
        // registered after the base kernel's own RenderedImage renderer, so these bytes are the ones kept
        renderer.createRegistration(RenderedImage.class)
                .preferring(MIMEType.IMAGE_PNG)
                .register((img, ctx) -> ctx.getOutputContainer().putData(MIMEType.IMAGE_PNG, png(img)));
        TablesawRenderers.register(renderer, this);
    }

    void plotlyWhen(BooleanSupplier on) {
        this.plotly = on;
    }

    boolean plotlyOn() {
        return plotly.getAsBoolean();
    }

    /** plotly.js for the first interactive figure of a session; later figures reuse window.Plotly. */
    synchronized String plotlyLibraryOnce() {
        if (plotlyInlined) return "";
        plotlyInlined = true;
        String path = "/META-INF/resources/webjars/plotly.js-dist/3.3.1/plotly.js";
        try (InputStream in = Renderers.class.getResourceAsStream(path)) {
            if (in == null) throw new IllegalStateException("plotly.js is missing from the class path (" + path + ")");
            // a "</script" inside the library would end the tag early; split it the way browsers allow
            return new String(in.readAllBytes(), StandardCharsets.UTF_8).replace("</script", "<\\/script");
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    DisplayData render(Object value) {
        return renderer.render(value);
    }

    /** A table and its chart in one output: the chart as an inline PNG under the table. */
    static void putTableWithChart(DisplayData out, Table t, Chart c) {
        out.putHTML(t.toHtml() + "<img alt=\"" + escape(c.title()) + "\" src=\"data:image/png;base64,"
                + Base64.getEncoder().encodeToString(c.png()) + "\"/>");
        out.putText(t.toString());
    }

    static void putChart(DisplayData out, Chart c) {
        out.putData(MIMEType.IMAGE_PNG, Base64.getEncoder().encodeToString(c.png()));
        if (c.points() <= SVG_MAX_POINTS) out.putSVG(inlineSvg(c.svg()));
        out.putText(c.toString());
    }

    /** SVG for embedding: no XML prolog or DOCTYPE (whose DTD address nothing should ever fetch). */
    static String inlineSvg(String svg) {
        int start = svg.indexOf("<svg");
        return start < 0 ? svg : svg.substring(start);
    }

    /** PNG bytes, base64: encoded whole into memory first, so nothing is cut off. */
    static String png(RenderedImage img) {
        try {
            ByteArrayOutputStream bytes = new ByteArrayOutputStream();
            if (!ImageIO.write(img, "png", bytes)) throw new IOException("no PNG writer for this image");
            return Base64.getEncoder().encodeToString(bytes.toByteArray());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static String escape(String s) {
        return Table.escape(s);
    }
}
