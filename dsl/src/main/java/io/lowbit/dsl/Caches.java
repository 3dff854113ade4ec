package io.lowbit.dsl;

/**
 * What the verbs keep between calls, so that running a cell again costs seconds; each cache is
 * bounded (least recently used goes first, its tensors freed) so a long session does not fill memory.
 */
final class Caches {
    private Caches() {}

    /**
     * Entries and bytes each cache may hold. The defaults fit an 8B model's working set: two sets of
     * float32 gradients at most (about 26 GiB each, 3× with the ablation baselines), a few Q_ref copies.
     */
    record Limits(
            int gradients,
            long gradientBytes,
            int references,
            long referenceBytes,
            int hessians,
            long hessianBytes,
            int results) {
        static Limits defaults() {
            long gib = 1L << 30;
            return new Limits(2, 64 * gib, 6, 64 * gib, 2, 8 * gib, 1024);
        }
    }

    private static volatile Limits limits = Limits.defaults();

    static Limits limits() {
        return limits;
    }

    /** New limits, which apply from the next entry each cache keeps. */
    static void limit(Limits l) {
        limits = l;
    }

    /** Frees TaCQ's gradients, Q_ref models and Hessians, and forgets eval's results. */
    static void clear() {
        Tacq.clear();
        Evaluate.clearCache();
    }
}
