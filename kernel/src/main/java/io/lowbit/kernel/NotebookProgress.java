package io.lowbit.kernel;

import io.github.spencerpark.jupyter.kernel.display.DisplayData;
import io.lowbit.model.Progress;
import java.util.Locale;
import java.util.UUID;

/**
 * A progress bar for long DSL work: one display, updated in place at most every
 * {@link #MIN_INTERVAL_MS} ms and once at the end; text front ends see the same as a line.
 */
final class NotebookProgress implements Progress {
    static final long MIN_INTERVAL_MS = 200;
    private final LowbitKernel kernel;
    private String id;
    private String what;
    private long lastSent;
    private final long started = System.nanoTime();

    NotebookProgress(LowbitKernel kernel) {
        this.kernel = kernel;
    }

    @Override
    public synchronized void update(String what, long done, long total) {
        update(what, null, done, total);
    }

    @Override
    public synchronized void update(String what, String detail, long done, long total) {
        long now = System.nanoTime() / 1_000_000;
        boolean end = done >= total;
        if (id != null && what.equals(this.what) && !end && now - lastSent < MIN_INTERVAL_MS) return;
        lastSent = now;
        DisplayData d =
                bundle(detail == null ? what : what + " · " + detail, done, total, (System.nanoTime() - started) / 1e9);
        if (id == null || !what.equals(this.what)) { // a new stage of the work gets its own bar
            id = UUID.randomUUID().toString();
            this.what = what;
            d.setDisplayId(id);
            kernel.iopub.publish("display_data", Bundles.content(d));
        } else {
            d.setDisplayId(id);
            kernel.iopub.publish("update_display_data", Bundles.content(d));
        }
    }

    static DisplayData bundle(String what, long done, long total, double seconds) {
        long max = Math.max(total, 1);
        long pct = Math.min(100, done * 100 / max);
        String text = String.format(Locale.ROOT, "%s: %d/%d (%d%%) %.1f s", what, done, total, pct, seconds);
        DisplayData d = new DisplayData(text);
        d.putHTML("<div style=\"font-family:monospace\"><progress value=\"" + Math.min(done, max) + "\" max=\"" + max
                + "\" style=\"width:40%;vertical-align:middle\"></progress> " + Renderers.escape(text) + "</div>");
        return d;
    }
}
