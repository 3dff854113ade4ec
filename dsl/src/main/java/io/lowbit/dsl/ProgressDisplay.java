package io.lowbit.dsl;

import io.lowbit.model.Progress;
import java.util.Locale;
import java.util.function.Supplier;

/**
 * Where the verbs report long work: the console, unless the notebook kernel installs its own display.
 * A verb made of many verbs (a sweep, a comparison) opens {@link #steps} so that everything inside
 * reports into its one display as a detail line, rather than each inner verb opening a bar of its own.
 */
final class ProgressDisplay {
    private ProgressDisplay() {}

    private static volatile Supplier<Progress> factory = () -> new ConsoleProgress(System.err);
    /** The steps running on this thread, if any: the verbs it calls report into them. */
    private static final ThreadLocal<Steps> CURRENT = new ThreadLocal<>();

    static void use(Supplier<Progress> p) {
        factory = p;
    }

    /** A fresh display for one piece of work, or the running steps' display when called inside them. */
    static Progress open() {
        Steps s = CURRENT.get();
        return s != null ? s : factory.get();
    }

    /**
     * One display for {@code total} steps of {@code what}; until it is closed, {@link #open()} on this
     * thread returns it. Steps inside steps share the outer display.
     */
    static Steps steps(String what, int total) {
        Steps outer = CURRENT.get();
        Steps s = new Steps(what, total, outer != null ? outer : factory.get(), outer);
        CURRENT.set(s);
        return s;
    }

    /** Inner work reports as the detail of the current step: "TACQ W3 0.35 % · GPTQ blocks 3/8". */
    static final class Steps implements Progress, AutoCloseable {
        private final String what;
        private final int total;
        private final Progress display;
        private final Steps outer;
        private int done = -1;
        private String step = "";

        private Steps(String what, int total, Progress display, Steps outer) {
            this.what = what;
            this.total = total;
            this.display = display;
            this.outer = outer;
        }

        /** Starts the next step; the steps before it count as done. */
        void next(String label) {
            done++;
            step = label;
            display.update(what, label, done, total);
        }

        @Override
        public void update(String inner, long innerDone, long innerTotal) {
            display.update(
                    what,
                    String.format(Locale.ROOT, "%s · %s %d/%d", step, inner, innerDone, innerTotal),
                    Math.max(done, 0),
                    total);
        }

        @Override
        public void update(String inner, String detail, long innerDone, long innerTotal) {
            update(inner + " · " + detail, innerDone, innerTotal);
        }

        /** The last update says whether every step ran; the display the steps replaced comes back. */
        @Override
        public void close() {
            if (CURRENT.get() == this) {
                if (outer == null) CURRENT.remove();
                else CURRENT.set(outer);
            }
            boolean all = done + 1 >= total;
            display.update(what, all ? "done" : "stopped", all ? total : Math.max(done, 0), total);
        }
    }
}
