package io.lowbit.dsl;

import io.lowbit.model.Progress;
import java.io.PrintStream;
import java.util.Locale;

/** Progress on a console: one line per 10 % (or per unit when there are few), on stderr. */
final class ConsoleProgress implements Progress {
    private final PrintStream out;
    private long lastDecile = -1;

    ConsoleProgress(PrintStream out) {
        this.out = out;
    }

    @Override
    public void update(String what, long done, long total) {
        long decile = total <= 0 ? 0 : done * 10 / total;
        if (decile == lastDecile && done != total) return;
        lastDecile = decile;
        out.printf(Locale.ROOT, "%s: %d/%d (%d%%)%n", what, done, total, total <= 0 ? 100 : done * 100 / total);
        if (done == total) lastDecile = -1;
    }
}
