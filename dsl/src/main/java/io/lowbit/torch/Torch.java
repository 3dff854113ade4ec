package io.lowbit.torch;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.List;

/**
 * Tensor factories, operations over several tensors, and process-wide switches (seed, grad mode).
 * Factories without a device use {@link Device#defaultDevice()}; without a dtype, float32.
 */
public final class Torch {
    private Torch() {}

    // ---------------------------------------------------------------- facts

    /** The libtorch version the bridge was built against, e.g. "1.13.0" or "2.11.0". */
    public static String version() {
        try {
            return ((MemorySegment) Bridge.TORCH_VERSION.invokeExact())
                    .reinterpret(256)
                    .getString(0);
        } catch (Throwable t) {
            throw Bridge.rethrow(t);
        }
    }

    /**
     * GPTQ's clipping search for every row of w [rows, n] (contiguous float32) in one pass per row
     * (lowbit_bridge.h, lb_mse_grid): candidates p = 1 − i/grid, i < steps, of [p·xmin, p·xmax],
     * scored by Σ|x̂ − x|^norm; the first strictly best scale and zero of each row go to {@code scale}
     * and {@code zero} (float32, one per row). A CUDA kernel on a GPU, the same loop in C++ on a CPU.
     */
    public static void mseGrid(
            Tensor w,
            Tensor xmin,
            Tensor xmax,
            int maxq,
            double norm,
            int grid,
            int steps,
            boolean sym,
            Tensor scale,
            Tensor zero) {
        try {
            Bridge.check((int) Bridge.MSE_GRID.invokeExact(
                    w.handle(),
                    xmin.handle(),
                    xmax.handle(),
                    maxq,
                    norm,
                    grid,
                    steps,
                    sym ? 1 : 0,
                    scale.handle(),
                    zero.handle()));
        } catch (Throwable t) {
            throw Bridge.rethrow(t);
        }
    }

    /**
     * GPTQ's column sweep inside one block (lowbit_bridge.h): w, scale, zero, keep (may be null), q,
     * codes, err are [nb, rows] float32 (keep bool), contiguous; u [nb, nb]; losses [rows]. One CUDA
     * kernel launch on a GPU, a parallel loop on a CPU.
     */
    public static void gptqSweep(
            Tensor w,
            Tensor u,
            Tensor scale,
            Tensor zero,
            Tensor keep,
            int maxq,
            Tensor q,
            Tensor codes,
            Tensor err,
            Tensor losses) {
        try {
            MemorySegment k = keep == null ? MemorySegment.NULL : keep.handle();
            Bridge.check((int) Bridge.GPTQ_SWEEP.invokeExact(
                    w.handle(),
                    u.handle(),
                    scale.handle(),
                    zero.handle(),
                    k,
                    maxq,
                    q.handle(),
                    codes.handle(),
                    err.handle(),
                    losses.handle()));
        } catch (Throwable t) {
            throw Bridge.rethrow(t);
        }
    }

    /**
     * TesseraQ's soft-rounded weight as one autograd node (lowbit_bridge.h): Ŵ = scale ⊙
     * (clamp(base + h(ν) + zero, 0, maxq) − zero) with h the rectified sigmoid; ν and base [groups, group],
     * scale and zero [groups, 1], all float32; the result in {@code out}. Gradients reach ν and scale.
     */
    public static Tensor softRoundWeight(Tensor nu, Tensor scale, Tensor base, Tensor zero, int maxq, DType out) {
        try {
            Frame f = Frame.get();
            Bridge.check((int) Bridge.SOFT_WEIGHT.invokeExact(
                    nu.handle(), scale.handle(), base.handle(), zero.handle(), maxq, out.code, f.scratch));
            return new Tensor(f.scratch.get(ValueLayout.ADDRESS, 0));
        } catch (Throwable t) {
            throw Bridge.rethrow(t);
        }
    }

    /**
     * One Adam step in place (PyTorch's update; {@code decay} is L2 added to the gradient when > 0):
     * p, g, m, v contiguous float32 of one shape; correction1/2 = 1 − β^t.
     */
    public static void adamStep(
            Tensor p,
            Tensor g,
            Tensor m,
            Tensor v,
            double lr,
            double beta1,
            double beta2,
            double eps,
            double decay,
            double correction1,
            double correction2) {
        try {
            Bridge.check((int) Bridge.ADAM_STEP.invokeExact(
                    p.handle(),
                    g.handle(),
                    m.handle(),
                    v.handle(),
                    lr,
                    beta1,
                    beta2,
                    eps,
                    decay,
                    correction1,
                    correction2));
        } catch (Throwable t) {
            throw Bridge.rethrow(t);
        }
    }

    /** Whether the bridge was compiled with our CUDA kernels. */
    public static boolean hasCudaKernels() {
        try {
            return (int) Bridge.HAS_CUDA_BUILD.invokeExact() != 0;
        } catch (Throwable t) {
            throw Bridge.rethrow(t);
        }
    }

    /** Tensor handles alive in the bridge now (for leak checks). */
    public static long liveTensors() {
        try {
            return (long) Bridge.LIVE_TENSORS.invokeExact();
        } catch (Throwable t) {
            throw Bridge.rethrow(t);
        }
    }

    /** Whether this libtorch has the operator, e.g. hasOp("aten::scaled_dot_product_attention", ""). */
    public static boolean hasOp(String name, String overload) {
        return Op.exists(name, overload);
    }

    /** The operator's schema as libtorch prints it. */
    public static String schema(String name, String overload) {
        return Op.of(name, overload).schema();
    }

    // ---------------------------------------------------------------- generic call

    /**
     * Calls any ATen operator by name and overload, e.g. {@code call("aten::var", "correction", x,
     * new long[] {1}, null, true)}. Arguments: Tensor (null for None), Long/Integer, Double/Float,
     * Boolean, long[]/int[], double[], Tensor[]/List of Tensor, DType, Device, String. Trailing
     * arguments left out take the schema's defaults. Returns every output.
     */
    public static Tensor[] call(String name, String overload, Object... args) {
        return Op.of(name, overload).call(args);
    }

    /** {@link #call} for operators with one output. */
    public static Tensor call1(String name, String overload, Object... args) {
        return Op.of(name, overload).call1(args);
    }

    // ---------------------------------------------------------------- random and grad mode

    /** Seeds the CPU and every CUDA generator. */
    public static void manualSeed(long seed) {
        try {
            Bridge.check((int) Bridge.MANUAL_SEED.invokeExact(seed));
        } catch (Throwable t) {
            throw Bridge.rethrow(t);
        }
    }

    public static boolean isGradEnabled() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(JAVA_INT);
            Bridge.check((int) Bridge.IS_GRAD_ENABLED.invokeExact(out));
            return out.get(JAVA_INT, 0) != 0;
        } catch (Throwable t) {
            throw Bridge.rethrow(t);
        }
    }

    /** Sets grad mode on the calling thread (like torch.set_grad_enabled). */
    public static void setGradEnabled(boolean enabled) {
        try {
            Bridge.check((int) Bridge.SET_GRAD_ENABLED.invokeExact(enabled ? 1 : 0));
        } catch (Throwable t) {
            throw Bridge.rethrow(t);
        }
    }

    /** {@code try (var g = Torch.noGrad()) { ... }}: no autograd graph inside, the previous mode after. */
    public static GradMode noGrad() {
        return new GradMode(false);
    }

    /** {@code try (var g = Torch.enableGrad()) { ... }}. */
    public static GradMode enableGrad() {
        return new GradMode(true);
    }

    public static final class GradMode implements AutoCloseable {
        private final boolean previous;

        private GradMode(boolean enabled) {
            previous = isGradEnabled();
            setGradEnabled(enabled);
        }

        @Override
        public void close() {
            setGradEnabled(previous);
        }
    }

    // ---------------------------------------------------------------- from Java arrays

    public static Tensor tensor(float[] data, long... shape) {
        return fromHost(
                MemorySegment.ofArray(data),
                ValueLayout.JAVA_FLOAT,
                data.length,
                DType.F32,
                shape,
                Device.defaultDevice());
    }

    public static Tensor tensor(double[] data, long... shape) {
        return fromHost(
                MemorySegment.ofArray(data),
                ValueLayout.JAVA_DOUBLE,
                data.length,
                DType.F64,
                shape,
                Device.defaultDevice());
    }

    public static Tensor tensor(long[] data, long... shape) {
        return fromHost(
                MemorySegment.ofArray(data),
                ValueLayout.JAVA_LONG,
                data.length,
                DType.I64,
                shape,
                Device.defaultDevice());
    }

    public static Tensor tensor(int[] data, long... shape) {
        return fromHost(
                MemorySegment.ofArray(data),
                ValueLayout.JAVA_INT,
                data.length,
                DType.I32,
                shape,
                Device.defaultDevice());
    }

    public static Tensor tensor(byte[] data, DType dtype, long... shape) {
        if (dtype.bytes != 1) throw new IllegalArgumentException("byte data needs a one-byte dtype, not " + dtype);
        return fromHost(
                MemorySegment.ofArray(data), ValueLayout.JAVA_BYTE, data.length, dtype, shape, Device.defaultDevice());
    }

    public static Tensor tensor(boolean[] data, long... shape) {
        byte[] b = new byte[data.length];
        for (int i = 0; i < b.length; i++) b[i] = (byte) (data[i] ? 1 : 0);
        return tensor(b, DType.BOOL, shape);
    }

    /** Copies {@code count} elements of host memory (heap or native) into a new tensor on {@code device}. */
    public static Tensor fromHost(
            MemorySegment data, ValueLayout element, long count, DType dtype, long[] shape, Device device) {
        long n = 1;
        for (long d : shape) {
            if (d < 0)
                throw new IllegalArgumentException("negative dimension in shape " + java.util.Arrays.toString(shape));
            n *= d;
        }
        if (n != count)
            throw new IllegalArgumentException(
                    "shape " + java.util.Arrays.toString(shape) + " holds " + n + " elements, data has " + count);
        if (element.byteSize() != dtype.bytes)
            throw new IllegalArgumentException(
                    dtype + " takes " + dtype.bytes + "-byte elements, data has " + element.byteSize());
        try (Arena arena = Arena.ofConfined()) {
            // libtorch reads native memory: heap arrays are copied to it first
            MemorySegment src = data.isNative()
                    ? data
                    : arena.allocate(Math.max(1, count * dtype.bytes), 8).copyFrom(data);
            MemorySegment dims = arena.allocateFrom(ValueLayout.JAVA_LONG, shape);
            MemorySegment out = arena.allocate(ADDRESS);
            Bridge.check((int) Bridge.FROM_HOST.invokeExact(
                    src, dims, shape.length, dtype.code, device.isCuda() ? 1 : 0, device.index(), out));
            return new Tensor(out.get(ADDRESS, 0));
        } catch (Throwable t) {
            throw Bridge.rethrow(t);
        }
    }

    /**
     * A new tensor on {@code device} holding a copy of raw elements of {@code dtype} (row-major) in
     * native memory, e.g. a memory-mapped checkpoint: nothing passes through the Java heap.
     */
    public static Tensor fromNative(MemorySegment data, DType dtype, long[] shape, Device device) {
        if (!data.isNative()) throw new IllegalArgumentException("fromNative needs native memory");
        if (data.byteSize() % dtype.bytes != 0)
            throw new IllegalArgumentException(
                    data.byteSize() + " bytes is not a whole number of " + dtype + " elements");
        ValueLayout element = switch (dtype.bytes) {
            case 1 -> ValueLayout.JAVA_BYTE;
            case 2 -> ValueLayout.JAVA_SHORT;
            case 4 -> ValueLayout.JAVA_INT;
            default -> ValueLayout.JAVA_LONG;
        };
        return fromHost(data, element, data.byteSize() / dtype.bytes, dtype, shape, device);
    }

    /** A 0-d tensor. */
    public static Tensor scalar(double value, DType dtype) {
        return full(value, dtype, Device.defaultDevice());
    }

    // ---------------------------------------------------------------- factories

    public static Tensor zeros(long... shape) {
        return zeros(DType.F32, Device.defaultDevice(), shape);
    }

    public static Tensor zeros(DType dtype, long... shape) {
        return zeros(dtype, Device.defaultDevice(), shape);
    }

    public static Tensor zeros(DType dtype, Device device, long... shape) {
        return Ops.ZEROS.call1(shape, dtype, null, device);
    }

    public static Tensor ones(long... shape) {
        return ones(DType.F32, Device.defaultDevice(), shape);
    }

    public static Tensor ones(DType dtype, long... shape) {
        return ones(dtype, Device.defaultDevice(), shape);
    }

    public static Tensor ones(DType dtype, Device device, long... shape) {
        return Ops.ONES.call1(shape, dtype, null, device);
    }

    public static Tensor full(double value, DType dtype, Device device, long... shape) {
        return Ops.FULL.call1(shape, value, dtype, null, device);
    }

    public static Tensor full(double value, long... shape) {
        return full(value, DType.F32, Device.defaultDevice(), shape);
    }
    /** Standard normal samples (seeded by {@link #manualSeed}). */
    public static Tensor randn(long... shape) {
        return randn(DType.F32, Device.defaultDevice(), shape);
    }

    public static Tensor randn(DType dtype, long... shape) {
        return randn(dtype, Device.defaultDevice(), shape);
    }

    public static Tensor randn(DType dtype, Device device, long... shape) {
        return Ops.RANDN.call1(shape, dtype, null, device);
    }
    /** Uniform samples in [0, 1). */
    public static Tensor rand(long... shape) {
        return rand(DType.F32, Device.defaultDevice(), shape);
    }

    public static Tensor rand(DType dtype, Device device, long... shape) {
        return Ops.RAND.call1(shape, dtype, null, device);
    }
    /** 0, 1, ..., end-1 as int64. */
    public static Tensor arange(long end) {
        return arange(0, end, 1, DType.I64, Device.defaultDevice());
    }

    public static Tensor arange(double start, double end, double step, DType dtype, Device device) {
        return Ops.ARANGE.call1(start, end, step, dtype, null, device);
    }

    // ---------------------------------------------------------------- over several tensors

    public static Tensor cat(List<Tensor> tensors, int dim) {
        return Ops.CAT.call1(tensors, dim);
    }

    public static Tensor stack(List<Tensor> tensors, int dim) {
        return Ops.STACK.call1(tensors, dim);
    }
    /** Elementwise condition ? a : b. */
    public static Tensor where(Tensor condition, Tensor a, Tensor b) {
        return Ops.WHERE.call1(condition, a, b);
    }
    /** x·Wᵀ (+ bias): the linear layer. bias may be null. */
    public static Tensor linear(Tensor x, Tensor weight, Tensor bias) {
        return Ops.LINEAR.call1(x, weight, bias);
    }
    /** Rows of {@code weight} picked by {@code indices}. */
    public static Tensor embedding(Tensor weight, Tensor indices) {
        return Ops.EMBEDDING.call1(weight, indices);
    }

    /** Mean cross-entropy of logits [N, C] against int64 targets [N]; targets equal to ignoreIndex are skipped. */
    public static Tensor crossEntropy(Tensor logits, Tensor targets, long ignoreIndex) {
        return Ops.CROSS_ENTROPY.call1(logits, targets, null, 1L, ignoreIndex, 0.0);
    }

    public static Tensor crossEntropy(Tensor logits, Tensor targets) {
        return crossEntropy(logits, targets, -100);
    }

    /** Whether this libtorch has fused scaled_dot_product_attention (2.0 and later). */
    public static boolean hasScaledDotProductAttention() {
        return Holder.HAS_SDPA;
    }

    private static final class Holder {
        static final boolean HAS_SDPA = Op.exists("aten::scaled_dot_product_attention", "");
    }

    /**
     * softmax(Q·Kᵀ/√d + mask)·V over [..., T, d] inputs. Uses libtorch's fused kernel when it has one,
     * else the explicit computation. attnMask (additive float or boolean keep-mask) may be null.
     */
    public static Tensor scaledDotProductAttention(Tensor q, Tensor k, Tensor v, Tensor attnMask, boolean causal) {
        if (hasScaledDotProductAttention()) return Ops.SDPA.call1(q, k, v, attnMask, 0.0, causal);
        return attentionExplicit(q, k, v, attnMask, causal);
    }

    /** The explicit attention, the fallback for libtorch before 2.0 (and a reference in tests). */
    public static Tensor attentionExplicit(Tensor q, Tensor k, Tensor v, Tensor attnMask, boolean causal) {
        try (Scope scope = Scope.open()) {
            long[] qs = q.shape();
            long t = q.size(-2), s = k.size(-2), d = q.size(-1);
            long batch = q.numel() / (t * d);
            // additive mask [T, S] (0 or -inf), or [.., T, S] from the caller's mask
            Tensor bias = null;
            if (causal)
                bias = full(Double.NEGATIVE_INFINITY, q.dtype(), q.device(), t, s)
                        .triu(s - t + 1);
            if (attnMask != null) {
                Tensor m = attnMask.dtype() == DType.BOOL
                        ? zeros(q.dtype(), q.device(), attnMask.shape())
                                .maskedFill(attnMask.logicalNot(), Double.NEGATIVE_INFINITY)
                        : attnMask;
                bias = bias == null ? m : bias.add(m);
            }
            Tensor q3 = q.reshape(batch, t, d),
                    kT = k.reshape(batch, s, d).transpose(1, 2),
                    v3 = v.reshape(batch, s, v.size(-1));
            Tensor scores;
            if (bias == null) {
                scores = q3.mul(1.0 / Math.sqrt(d)).bmm(kT);
            } else {
                // one pass: bias + scale·(q·kᵀ), the bias broadcast over the leading dims
                long[] bshape = bias.shape();
                long lead = 1;
                for (int i = 0; i < bshape.length - 2; i++) lead *= bshape[i];
                Tensor b3 = lead == 1
                        ? bias.reshape(t, s)
                        : bias.expand(concat(java.util.Arrays.copyOf(qs, qs.length - 2), t, s))
                                .reshape(batch, t, s);
                scores = call1("aten::baddbmm", "", b3, q3, kT, 1.0, 1.0 / Math.sqrt(d));
            }
            long[] out = qs.clone();
            out[out.length - 1] = v.size(-1);
            return scope.keep(scores.softmax(-1).bmm(v3).view(out));
        }
    }

    private static long[] concat(long[] head, long... tail) {
        long[] r = java.util.Arrays.copyOf(head, head.length + tail.length);
        System.arraycopy(tail, 0, r, head.length, tail.length);
        return r;
    }

    /** Cholesky factor of a symmetric positive definite matrix; info > 0 where it failed (no exception). */
    public static Cholesky choleskyEx(Tensor a, boolean upper) {
        Tensor[] out = Ops.CHOLESKY_EX.call(a, upper, false);
        return new Cholesky(out[0], out[1]);
    }

    /** (U, info) or (L, info) of linalg_cholesky_ex; info is 0 on success. */
    public record Cholesky(Tensor factor, Tensor info) implements AutoCloseable {
        public boolean ok() {
            return java.util.Arrays.stream(info.toLongArray()).allMatch(i -> i == 0);
        }

        @Override
        public void close() {
            factor.close();
            info.close();
        }
    }

    /** A⁻¹ from the Cholesky factor of A. */
    public static Tensor choleskyInverse(Tensor factor, boolean upper) {
        return Ops.CHOLESKY_INVERSE.call1(factor, upper);
    }

    /** X with A·X = B (left) for triangular A. */
    public static Tensor solveTriangular(Tensor a, Tensor b, boolean upper) {
        return Ops.SOLVE_TRIANGULAR.call1(a, b, upper, true, false);
    }
}
