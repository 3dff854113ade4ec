package io.lowbit.torch;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * Per-thread native scratch memory for one bridge call at a time: the tagged argument array, the
 * output handle array, and a bump region for lists and strings. Reused, so a tiny op allocates no
 * native memory. A call that needs more than the bump region gets a confined arena of its own.
 */
final class Frame {
    static final int MAX_ARGS = 64;
    static final int MAX_OUTS = 1024;
    static final long ARG_BYTES = 40; // sizeof(lb_arg)
    private static final long BUMP_BYTES = 1 << 16;

    private static final ThreadLocal<Frame> CURRENT = ThreadLocal.withInitial(Frame::new);

    final MemorySegment args;
    final MemorySegment outs;
    final MemorySegment scratch; // out-parameters: shapes, counts, pointers
    private final MemorySegment bump;
    private long used;
    private Arena overflow;

    private Frame() {
        Arena arena = Arena.ofAuto();
        args = arena.allocate(ARG_BYTES * MAX_ARGS, 8);
        outs = arena.allocate(8L * MAX_OUTS, 8);
        scratch = arena.allocate(8L * 64, 8);
        bump = arena.allocate(BUMP_BYTES, 16);
    }

    static Frame get() {
        Frame f = CURRENT.get();
        f.used = 0;
        return f;
    }

    /** Memory valid until {@link #release()}; from the bump region when it fits. */
    MemorySegment allocate(long bytes) {
        long aligned = (bytes + 15) & ~15L;
        if (used + aligned <= BUMP_BYTES) {
            MemorySegment s = bump.asSlice(used, bytes);
            used += aligned;
            return s;
        }
        if (overflow == null) overflow = Arena.ofConfined();
        return overflow.allocate(bytes, 16);
    }

    MemorySegment longs(long[] values) {
        MemorySegment s = allocate(8L * values.length);
        MemorySegment.copy(values, 0, s, ValueLayout.JAVA_LONG, 0, values.length);
        return s;
    }

    void release() {
        used = 0;
        if (overflow != null) {
            overflow.close();
            overflow = null;
        }
    }
}
