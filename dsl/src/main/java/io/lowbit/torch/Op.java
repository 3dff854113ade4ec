package io.lowbit.torch;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_DOUBLE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * One ATen operator, looked up by name and overload on first use and then kept. Arguments are
 * Java values tagged for the bridge: Tensor (or null for None), Long/Integer, Double/Float,
 * Boolean, long[]/int[], double[], Tensor[]/List of Tensor, DType, Device, String.
 */
final class Op {
    private static final Map<String, Op> CACHE = new ConcurrentHashMap<>();

    // lb_tag values (lowbit_bridge.h)
    private static final int NONE = 0,
            TENSOR = 1,
            INT = 2,
            DOUBLE = 3,
            BOOL = 4,
            INT_LIST = 5,
            DOUBLE_LIST = 6,
            TENSOR_LIST = 7,
            DTYPE = 8,
            STRING = 9,
            DEVICE = 10;

    final String name;
    final String overload;
    private volatile MemorySegment handle;

    private Op(String name, String overload) {
        this.name = name;
        this.overload = overload;
    }

    /** The operator {@code name.overload}; the lookup in libtorch happens on first call. */
    static Op of(String name, String overload) {
        return CACHE.computeIfAbsent(name + "." + overload, k -> new Op(name, overload));
    }

    private MemorySegment handle() {
        MemorySegment h = handle;
        if (h == null) {
            synchronized (this) {
                if (handle == null) {
                    try (Arena arena = Arena.ofConfined()) {
                        MemorySegment out = arena.allocate(ADDRESS);
                        Bridge.check((int) Bridge.OP_LOOKUP.invokeExact(
                                arena.allocateFrom(name), arena.allocateFrom(overload), out));
                        handle = out.get(ADDRESS, 0);
                    } catch (Throwable t) {
                        throw Bridge.rethrow(t);
                    }
                }
                h = handle;
            }
        }
        return h;
    }

    /** Whether this libtorch has the operator (e.g. scaled_dot_product_attention exists from 2.0). */
    static boolean exists(String name, String overload) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(JAVA_INT);
            Bridge.check((int) Bridge.OP_HAS.invokeExact(arena.allocateFrom(name), arena.allocateFrom(overload), out));
            return out.get(JAVA_INT, 0) != 0;
        } catch (Throwable t) {
            throw Bridge.rethrow(t);
        }
    }

    String schema() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment buf = arena.allocate(4096);
            MemorySegment len = arena.allocate(JAVA_LONG);
            Bridge.check((int) Bridge.OP_SCHEMA.invokeExact(handle(), buf, 4096L, len));
            return buf.getString(0);
        } catch (Throwable t) {
            throw Bridge.rethrow(t);
        }
    }

    /** Calls the operator; returns its outputs (null where it returned None). */
    Tensor[] call(Object... args) {
        if (args.length > Frame.MAX_ARGS)
            throw new IllegalArgumentException("at most " + Frame.MAX_ARGS + " arguments");
        MemorySegment h = handle();
        Frame f = Frame.get();
        try {
            for (int k = 0; k < args.length; k++) put(f, k, args[k]);
            MemorySegment count = f.scratch;
            int rc = (int) Bridge.OP_CALL.invokeExact(h, f.args, args.length, f.outs, Frame.MAX_OUTS, count);
            if (rc != 0) throw new TorchException(Bridge.lastError());
            int n = count.get(JAVA_INT, 0);
            Tensor[] out = new Tensor[n];
            for (int k = 0; k < n; k++) {
                MemorySegment t = f.outs.getAtIndex(ADDRESS, k);
                out[k] = t.equals(MemorySegment.NULL) ? null : new Tensor(t);
            }
            return out;
        } catch (Throwable t) {
            throw Bridge.rethrow(t);
        } finally {
            f.release();
        }
    }

    /** The first output. */
    Tensor call1(Object... args) {
        Tensor[] out = call(args);
        for (int k = 1; k < out.length; k++) if (out[k] != null) out[k].close();
        return out[0];
    }

    private static void put(Frame f, int k, Object a) {
        MemorySegment s = f.args.asSlice(k * Frame.ARG_BYTES, Frame.ARG_BYTES);
        s.fill((byte) 0);
        switch (a) {
            case null -> s.set(JAVA_INT, 0, NONE);
            case Tensor t -> {
                s.set(JAVA_INT, 0, TENSOR);
                s.set(ADDRESS, 24, t.handle());
            }
            case Long v -> setInt(s, v);
            case Integer v -> setInt(s, v);
            case Double v -> setDouble(s, v);
            case Float v -> setDouble(s, v);
            case Boolean v -> {
                s.set(JAVA_INT, 0, BOOL);
                s.set(JAVA_LONG, 8, v ? 1 : 0);
            }
            case long[] v -> list(s, INT_LIST, f.longs(v), v.length);
            case int[] v -> {
                long[] w = new long[v.length];
                for (int i = 0; i < v.length; i++) w[i] = v[i];
                list(s, INT_LIST, f.longs(w), w.length);
            }
            case double[] v -> {
                MemorySegment m = f.allocate(8L * v.length);
                MemorySegment.copy(v, 0, m, JAVA_DOUBLE, 0, v.length);
                list(s, DOUBLE_LIST, m, v.length);
            }
            case Tensor[] v -> tensorList(f, s, v);
            case List<?> v -> tensorList(f, s, v.toArray(new Tensor[0]));
            case DType d -> {
                s.set(JAVA_INT, 0, DTYPE);
                s.set(JAVA_LONG, 8, d.code);
            }
            case Device d -> {
                s.set(JAVA_INT, 0, DEVICE);
                s.set(JAVA_LONG, 8, d.isCuda() ? 1 : 0);
                s.set(JAVA_LONG, 32, d.index());
            }
            case String v -> {
                byte[] bytes = v.getBytes(StandardCharsets.UTF_8);
                MemorySegment m = f.allocate(Math.max(1, bytes.length));
                MemorySegment.copy(bytes, 0, m, JAVA_BYTE, 0, bytes.length);
                list(s, STRING, m, bytes.length);
            }
            default ->
                throw new IllegalArgumentException(
                        "cannot pass a " + a.getClass().getName() + " to an ATen operator");
        }
    }

    private static void setInt(MemorySegment s, long v) {
        s.set(JAVA_INT, 0, INT);
        s.set(JAVA_LONG, 8, v);
    }

    private static void setDouble(MemorySegment s, double v) {
        s.set(JAVA_INT, 0, DOUBLE);
        s.set(JAVA_DOUBLE, 16, v);
    }

    private static void list(MemorySegment s, int tag, MemorySegment data, long n) {
        s.set(JAVA_INT, 0, tag);
        s.set(ADDRESS, 24, data);
        s.set(JAVA_LONG, 32, n);
    }

    private static void tensorList(Frame f, MemorySegment s, Tensor[] v) {
        MemorySegment m = f.allocate(8L * Math.max(1, v.length));
        for (int i = 0; i < v.length; i++) m.setAtIndex(ADDRESS, i, v[i] == null ? MemorySegment.NULL : v[i].handle());
        list(s, TENSOR_LIST, m, v.length);
    }

    @Override
    public String toString() {
        return overload.isEmpty() ? name : name + "." + overload;
    }
}
