package io.lowbit.model;

/** Long work checks between steps whether its thread was interrupted (a notebook's stop button). */
public final class Interrupts {
    private Interrupts() {}

    /** Throws {@link Cancelled} if the current thread was interrupted, clearing the flag. */
    public static void check() {
        if (Thread.interrupted()) throw new Cancelled();
    }

    /** The work was interrupted; objects it was building are left as they were before it started. */
    public static final class Cancelled extends RuntimeException {
        public Cancelled() {
            super("interrupted");
        }
    }
}
