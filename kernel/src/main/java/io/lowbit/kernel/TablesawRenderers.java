package io.lowbit.kernel;

import io.github.spencerpark.jupyter.kernel.display.Renderer;
import io.github.spencerpark.jupyter.kernel.display.mime.MIMEType;
import java.util.UUID;
import tech.tablesaw.api.Table;
import tech.tablesaw.plotly.components.Figure;

/** tablesaw values: a Table as an HTML table; a jsplot Figure as offline Plotly, when asked for. */
final class TablesawRenderers {
    private TablesawRenderers() {}

    /** Rows shown before "… n more rows" (a notebook is not the place for a million-row table). */
    static final int MAX_ROWS = 50;

    static void register(Renderer renderer, Renderers owner) {
        renderer.createRegistration(Table.class)
                .preferring(MIMEType.TEXT_HTML, MIMEType.TEXT_PLAIN)
                .register((t, ctx) -> {
                    ctx.renderIfRequested(MIMEType.TEXT_HTML, () -> html(t));
                    ctx.renderIfRequested(MIMEType.TEXT_PLAIN, () -> t.print(MAX_ROWS));
                });
        renderer.createRegistration(Figure.class)
                .preferring(MIMEType.TEXT_HTML, MIMEType.TEXT_PLAIN)
                .register((f, ctx) -> {
                    if (owner.plotlyOn()) ctx.getOutputContainer().putHTML(plotlyHtml(f, owner.plotlyLibraryOnce()));
                    ctx.getOutputContainer()
                            .putText("Figure[" + f.getTraces().length + " traces]"
                                    + (owner.plotlyOn() ? "" : " (interactive figures are off: %plotly on)"));
                });
    }

    static String html(Table t) {
        StringBuilder b = new StringBuilder("<table><caption>")
                .append(Renderers.escape(t.name() == null ? "" : t.name()))
                .append("</caption><thead><tr>");
        for (String c : t.columnNames())
            b.append("<th>").append(Renderers.escape(c)).append("</th>");
        b.append("</tr></thead><tbody>");
        int rows = Math.min(t.rowCount(), MAX_ROWS);
        for (int r = 0; r < rows; r++) {
            b.append("<tr>");
            for (int c = 0; c < t.columnCount(); c++)
                b.append("<td>").append(Renderers.escape(t.getString(r, c))).append("</td>");
            b.append("</tr>");
        }
        b.append("</tbody></table>");
        if (t.rowCount() > rows) b.append("<p>… ").append(t.rowCount() - rows).append(" more rows</p>");
        return b.toString();
    }

    /**
     * The figure as HTML that needs nothing from outside: plotly.js inline (the first time), then
     * the figure's script in its own function scope, so two figures never share variables.
     */
    static String plotlyHtml(Figure f, String library) {
        String id = "lowbit_" + UUID.randomUUID().toString().replace("-", ""); // the template makes JS names of it
        StringBuilder b = new StringBuilder();
        if (!library.isEmpty())
            b.append("<script type=\"text/javascript\">").append(library).append("</script>");
        b.append("<div id=\"")
                .append(id)
                .append("\"></div>")
                .append("<script type=\"text/javascript\">(function(){\n")
                .append("if (!window.Plotly) { document.getElementById('")
                .append(id)
                .append(
                        "').textContent = 'plotly.js is not loaded: run the first interactive figure of this notebook again'; return; }\n")
                .append(f.asJavascript(id))
                .append("\n})();</script>");
        return b.toString();
    }
}
