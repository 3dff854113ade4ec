package io.lowbit.torch;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.ref.Cleaner;
import java.util.Arrays;

/**
 * A libtorch tensor on the CPU or a CUDA device. Close it, or make it inside a {@link Scope}; a
 * Cleaner frees forgotten tensors eventually, but only as a safety net (GPU memory should not wait
 * for the garbage collector). Ops return new tensors; methods ending in {@code InPlace} modify this
 * one. Only small results cross into Java arrays.
 */
public final class Tensor implements AutoCloseable {
    private static final Cleaner CLEANER = Cleaner.create();

    private final MemorySegment handle;
    private final Cleaner.Cleanable cleanable;
    private boolean closed;
    Scope owner;

    /** Takes ownership of a bridge handle. */
    Tensor(MemorySegment handle) {
        this.handle = handle;
        this.cleanable = CLEANER.register(this, new Free(handle));
        Scope scope = Scope.current();
        if (scope != null) scope.adopt(this);
    }

    private record Free(MemorySegment handle) implements Runnable {
        @Override
        public void run() {
            try {
                Bridge.check((int) Bridge.FREE.invokeExact(handle));
            } catch (Throwable ignored) {
                // freeing cannot fail in a way the caller could act on
            }
        }
    }

    MemorySegment handle() {
        if (closed) throw new IllegalStateException("tensor used after close()");
        return handle;
    }

    /** Frees the tensor now. Closing twice is harmless. */
    @Override
    public void close() {
        if (closed) return;
        closed = true;
        if (owner != null) {
            owner.forget(this);
            owner = null;
        }
        cleanable.clean();
    }

    /**
     * Takes this tensor out of the scope that would free it: long-lived owners (a model's weights)
     * call this and close the tensor themselves. Returns this.
     */
    public Tensor escape() {
        if (owner != null) {
            owner.forget(this);
            owner = null;
        }
        return this;
    }

    public boolean isClosed() {
        return closed;
    }

    // ---------------------------------------------------------------- facts

    public long[] shape() {
        int n = dim();
        if (n == 0) return new long[0];
        try {
            Frame f = Frame.get();
            Bridge.check((int) Bridge.SHAPE.invokeExact(handle(), f.scratch));
            return f.scratch.asSlice(0, 8L * n).toArray(JAVA_LONG);
        } catch (Throwable t) {
            throw Bridge.rethrow(t);
        }
    }

    public long size(int dim) {
        long[] s = shape();
        return s[dim < 0 ? dim + s.length : dim];
    }

    public long[] strides() {
        int n = dim();
        if (n == 0) return new long[0];
        try {
            Frame f = Frame.get();
            Bridge.check((int) Bridge.STRIDES.invokeExact(handle(), f.scratch));
            return f.scratch.asSlice(0, 8L * n).toArray(JAVA_LONG);
        } catch (Throwable t) {
            throw Bridge.rethrow(t);
        }
    }

    public int dim() {
        try {
            Frame f = Frame.get();
            Bridge.check((int) Bridge.DIM.invokeExact(handle(), f.scratch));
            return f.scratch.get(JAVA_INT, 0);
        } catch (Throwable t) {
            throw Bridge.rethrow(t);
        }
    }

    public long numel() {
        try {
            Frame f = Frame.get();
            Bridge.check((int) Bridge.NUMEL.invokeExact(handle(), f.scratch));
            return f.scratch.get(JAVA_LONG, 0);
        } catch (Throwable t) {
            throw Bridge.rethrow(t);
        }
    }

    public DType dtype() {
        try {
            Frame f = Frame.get();
            Bridge.check((int) Bridge.DTYPE.invokeExact(handle(), f.scratch));
            return DType.ofCode(f.scratch.get(JAVA_INT, 0));
        } catch (Throwable t) {
            throw Bridge.rethrow(t);
        }
    }

    public Device device() {
        try {
            Frame f = Frame.get();
            Bridge.check((int) Bridge.DEVICE.invokeExact(handle(), f.scratch, f.scratch.asSlice(8)));
            int type = f.scratch.get(JAVA_INT, 0);
            int index = f.scratch.get(JAVA_INT, 8);
            return type == 0 ? Device.CPU : Device.cuda(Math.max(index, 0));
        } catch (Throwable t) {
            throw Bridge.rethrow(t);
        }
    }

    /** Address of the first element, for our own CUDA kernels. */
    public long dataPointer() {
        try {
            Frame f = Frame.get();
            Bridge.check((int) Bridge.DATA_PTR.invokeExact(handle(), f.scratch));
            return f.scratch.get(ADDRESS, 0).address();
        } catch (Throwable t) {
            throw Bridge.rethrow(t);
        }
    }

    // ---------------------------------------------------------------- to Java

    /** All elements in row-major order as float32 (converted on the device first if needed). */
    public float[] toFloatArray() {
        return (float[]) copyOut(DType.F32, ValueLayout.JAVA_FLOAT);
    }

    public double[] toDoubleArray() {
        return (double[]) copyOut(DType.F64, ValueLayout.JAVA_DOUBLE);
    }

    public long[] toLongArray() {
        return (long[]) copyOut(DType.I64, JAVA_LONG);
    }

    public int[] toIntArray() {
        return (int[]) copyOut(DType.I32, JAVA_INT);
    }

    public boolean[] toBooleanArray() {
        byte[] b = (byte[]) copyOut(DType.BOOL, ValueLayout.JAVA_BYTE);
        boolean[] out = new boolean[b.length];
        for (int i = 0; i < b.length; i++) out[i] = b[i] != 0;
        return out;
    }

    /** The value of a one-element tensor. */
    public double item() {
        if (numel() != 1)
            throw new IllegalStateException("item() needs one element, tensor has shape " + Arrays.toString(shape()));
        return toDoubleArray()[0];
    }

    public long itemLong() {
        if (numel() != 1)
            throw new IllegalStateException(
                    "itemLong() needs one element, tensor has shape " + Arrays.toString(shape()));
        return toLongArray()[0];
    }

    private Object copyOut(DType as, ValueLayout layout) {
        Tensor src = dtype() == as ? this : to(as);
        try (Arena arena = Arena.ofConfined()) {
            long bytes = src.numel() * as.bytes;
            MemorySegment dst = arena.allocate(Math.max(bytes, 1), 8);
            Bridge.check((int) Bridge.TO_HOST.invokeExact(src.handle(), dst, bytes));
            MemorySegment data = dst.asSlice(0, bytes);
            if (layout == ValueLayout.JAVA_FLOAT) return data.toArray(ValueLayout.JAVA_FLOAT);
            if (layout == ValueLayout.JAVA_DOUBLE) return data.toArray(ValueLayout.JAVA_DOUBLE);
            if (layout == JAVA_LONG) return data.toArray(JAVA_LONG);
            if (layout == JAVA_INT) return data.toArray(JAVA_INT);
            return data.toArray(ValueLayout.JAVA_BYTE);
        } catch (Throwable t) {
            throw Bridge.rethrow(t);
        } finally {
            if (src != this) src.close();
        }
    }

    /** Bytes the elements take in their own dtype. */
    public long byteSize() {
        return numel() * dtype().bytes;
    }

    /**
     * Copies the elements, row-major, in their own dtype (bf16 stays two bytes), into {@code dst}
     * (native memory, exactly {@link #byteSize()} bytes). For writing checkpoints.
     */
    public void copyRawTo(MemorySegment dst) {
        if (!dst.isNative()) throw new IllegalArgumentException("copyRawTo needs native memory");
        try {
            Bridge.check((int) Bridge.TO_HOST.invokeExact(handle(), dst, dst.byteSize()));
        } catch (Throwable t) {
            throw Bridge.rethrow(t);
        }
    }

    // ---------------------------------------------------------------- autograd

    public Tensor requiresGrad(boolean flag) {
        try {
            Bridge.check((int) Bridge.SET_REQUIRES_GRAD.invokeExact(handle(), flag ? 1 : 0));
            return this;
        } catch (Throwable t) {
            throw Bridge.rethrow(t);
        }
    }

    public boolean requiresGrad() {
        try {
            Frame f = Frame.get();
            Bridge.check((int) Bridge.REQUIRES_GRAD.invokeExact(handle(), f.scratch));
            return f.scratch.get(JAVA_INT, 0) != 0;
        } catch (Throwable t) {
            throw Bridge.rethrow(t);
        }
    }

    /** Backpropagates from this scalar (or with the given gradient of the same shape). */
    public void backward() {
        backward(null, false);
    }

    public void backward(Tensor gradient, boolean retainGraph) {
        try {
            MemorySegment g = gradient == null ? MemorySegment.NULL : gradient.handle();
            Bridge.check((int) Bridge.BACKWARD.invokeExact(handle(), g, retainGraph ? 1 : 0));
        } catch (Throwable t) {
            throw Bridge.rethrow(t);
        }
    }

    /** The accumulated gradient (a new handle to it), or null before any backward. */
    public Tensor grad() {
        try {
            Frame f = Frame.get();
            Bridge.check((int) Bridge.GRAD.invokeExact(handle(), f.scratch));
            MemorySegment g = f.scratch.get(ADDRESS, 0);
            return g.equals(MemorySegment.NULL) ? null : new Tensor(g);
        } catch (Throwable t) {
            throw Bridge.rethrow(t);
        }
    }

    /** Drops the accumulated gradient (set to none, as torch.optim does by default). */
    public void zeroGrad() {
        try {
            Bridge.check((int) Bridge.ZERO_GRAD.invokeExact(handle()));
        } catch (Throwable t) {
            throw Bridge.rethrow(t);
        }
    }

    /** A second handle to the same tensor (shares storage and autograd identity). */
    public Tensor share() {
        try {
            Frame f = Frame.get();
            Bridge.check((int) Bridge.CLONE_HANDLE.invokeExact(handle(), f.scratch));
            return new Tensor(f.scratch.get(ADDRESS, 0));
        } catch (Throwable t) {
            throw Bridge.rethrow(t);
        }
    }

    // ---------------------------------------------------------------- arithmetic

    public Tensor add(Tensor o) {
        return Ops.ADD.call1(this, o);
    }

    public Tensor add(double v) {
        return Ops.ADD_S.call1(this, v);
    }
    /** An integer scalar keeps integer tensors integer (a double would promote them to float). */
    public Tensor add(long v) {
        return Ops.ADD_S.call1(this, v);
    }

    public Tensor sub(long v) {
        return Ops.SUB_S.call1(this, v);
    }

    public Tensor mul(long v) {
        return Ops.MUL_S.call1(this, v);
    }

    public Tensor sub(Tensor o) {
        return Ops.SUB.call1(this, o);
    }

    public Tensor sub(double v) {
        return Ops.SUB_S.call1(this, v);
    }

    public Tensor mul(Tensor o) {
        return Ops.MUL.call1(this, o);
    }

    public Tensor mul(double v) {
        return Ops.MUL_S.call1(this, v);
    }

    public Tensor div(Tensor o) {
        return Ops.DIV.call1(this, o);
    }

    public Tensor div(double v) {
        return Ops.DIV_S.call1(this, v);
    }

    public Tensor pow(double exponent) {
        return Ops.POW_S.call1(this, exponent);
    }

    public Tensor pow(Tensor exponent) {
        return Ops.POW.call1(this, exponent);
    }

    public Tensor neg() {
        return Ops.NEG.call1(this);
    }

    public Tensor abs() {
        return Ops.ABS.call1(this);
    }

    public Tensor sign() {
        return Ops.SIGN.call1(this);
    }

    public Tensor sqrt() {
        return Ops.SQRT.call1(this);
    }

    public Tensor rsqrt() {
        return Ops.RSQRT.call1(this);
    }

    public Tensor exp() {
        return Ops.EXP.call1(this);
    }

    public Tensor log() {
        return Ops.LOG.call1(this);
    }

    public Tensor square() {
        return Ops.SQUARE.call1(this);
    }

    public Tensor reciprocal() {
        return Ops.RECIPROCAL.call1(this);
    }

    public Tensor sin() {
        return Ops.SIN.call1(this);
    }

    public Tensor cos() {
        return Ops.COS.call1(this);
    }

    public Tensor sigmoid() {
        return Ops.SIGMOID.call1(this);
    }

    public Tensor tanh() {
        return Ops.TANH.call1(this);
    }

    public Tensor floor() {
        return Ops.FLOOR.call1(this);
    }
    /** Rounds half to even (banker's rounding), as torch.round does. */
    public Tensor round() {
        return Ops.ROUND.call1(this);
    }
    /** Clamps to [min, max]; either bound may be null. */
    public Tensor clamp(Double min, Double max) {
        return Ops.CLAMP.call1(this, min, max);
    }

    public Tensor clamp(Tensor min, Tensor max) {
        return Ops.CLAMP_T.call1(this, min, max);
    }

    public Tensor minimum(Tensor o) {
        return Ops.MINIMUM.call1(this, o);
    }

    public Tensor maximum(Tensor o) {
        return Ops.MAXIMUM.call1(this, o);
    }

    // in place
    public Tensor addInPlace(Tensor o) {
        Ops.ADD_.call(this, o)[0].close();
        return this;
    }

    public Tensor addInPlace(Tensor o, double alpha) {
        Ops.ADD_.call(this, o, alpha)[0].close();
        return this;
    }

    public Tensor mulInPlace(double v) {
        Ops.MUL_S_.call(this, v)[0].close();
        return this;
    }

    public Tensor copyFrom(Tensor src) {
        Ops.COPY_.call(this, src)[0].close();
        return this;
    }

    public Tensor fillInPlace(double v) {
        Ops.FILL_.call(this, v)[0].close();
        return this;
    }

    public Tensor zeroInPlace() {
        Ops.ZERO_.call(this)[0].close();
        return this;
    }

    /** this += |g| in one pass (a CUDA kernel of ours on GPU); this must be float32. */
    public Tensor absAccumulateInPlace(Tensor g) {
        try {
            Bridge.check((int) Bridge.ABS_ACCUMULATE.invokeExact(handle(), g.handle()));
            return this;
        } catch (Throwable t) {
            throw Bridge.rethrow(t);
        }
    }

    // ---------------------------------------------------------------- comparisons and logic

    public Tensor eq(Tensor o) {
        return Ops.EQ.call1(this, o);
    }

    public Tensor eq(double v) {
        return Ops.EQ_S.call1(this, v);
    }

    public Tensor ne(double v) {
        return Ops.NE_S.call1(this, v);
    }

    public Tensor lt(Tensor o) {
        return Ops.LT.call1(this, o);
    }

    public Tensor lt(double v) {
        return Ops.LT_S.call1(this, v);
    }

    public Tensor le(double v) {
        return Ops.LE_S.call1(this, v);
    }

    public Tensor gt(Tensor o) {
        return Ops.GT.call1(this, o);
    }

    public Tensor gt(double v) {
        return Ops.GT_S.call1(this, v);
    }

    public Tensor ge(double v) {
        return Ops.GE_S.call1(this, v);
    }

    public Tensor logicalNot() {
        return Ops.LOGICAL_NOT.call1(this);
    }

    public Tensor logicalAnd(Tensor o) {
        return Ops.LOGICAL_AND.call1(this, o);
    }

    public Tensor logicalOr(Tensor o) {
        return Ops.LOGICAL_OR.call1(this, o);
    }

    public Tensor isnan() {
        return Ops.ISNAN.call1(this);
    }

    public Tensor isfinite() {
        return Ops.ISFINITE.call1(this);
    }

    // ---------------------------------------------------------------- reductions

    public Tensor sum() {
        return Ops.SUM.call1(this);
    }

    public Tensor sum(long[] dims, boolean keepdim) {
        return Ops.SUM_DIM.call1(this, dims, keepdim);
    }

    public Tensor sum(int dim) {
        return sum(new long[] {dim}, false);
    }

    public Tensor mean() {
        return Ops.MEAN.call1(this);
    }

    public Tensor mean(long[] dims, boolean keepdim) {
        return Ops.MEAN_DIM.call1(this, dims, keepdim);
    }

    public Tensor mean(int dim) {
        return mean(new long[] {dim}, false);
    }

    public Tensor amax(long[] dims, boolean keepdim) {
        return Ops.AMAX.call1(this, dims, keepdim);
    }

    public Tensor amin(long[] dims, boolean keepdim) {
        return Ops.AMIN.call1(this, dims, keepdim);
    }

    public Tensor max() {
        return Ops.MAX_ALL.call1(this);
    }

    public Tensor min() {
        return Ops.MIN_ALL.call1(this);
    }

    public ValuesIndices max(int dim, boolean keepdim) {
        return ValuesIndices.of(Ops.MAX_DIM.call(this, dim, keepdim));
    }

    public ValuesIndices min(int dim, boolean keepdim) {
        return ValuesIndices.of(Ops.MIN_DIM.call(this, dim, keepdim));
    }

    public Tensor argmax(int dim, boolean keepdim) {
        return Ops.ARGMAX.call1(this, (long) dim, keepdim);
    }
    /** Index of the largest element of the flattened tensor. */
    public Tensor argmax() {
        return Ops.ARGMAX.call1(this);
    }

    public Tensor cumsum(int dim) {
        return Ops.CUMSUM.call1(this, dim);
    }

    public ValuesIndices topk(long k, int dim, boolean largest) {
        return ValuesIndices.of(Ops.TOPK.call(this, k, dim, largest, true));
    }

    public ValuesIndices sort(int dim, boolean descending) {
        return ValuesIndices.of(Ops.SORT.call(this, dim, descending));
    }

    // ---------------------------------------------------------------- indexing

    public Tensor indexSelect(int dim, Tensor index) {
        return Ops.INDEX_SELECT.call1(this, dim, index);
    }

    public Tensor gather(int dim, Tensor index) {
        return Ops.GATHER.call1(this, dim, index);
    }

    public Tensor scatter(int dim, Tensor index, Tensor src) {
        return Ops.SCATTER.call1(this, dim, index, src);
    }

    public Tensor scatter(int dim, Tensor index, double value) {
        return Ops.SCATTER_V.call1(this, dim, index, value);
    }

    public Tensor scatterAdd(int dim, Tensor index, Tensor src) {
        return Ops.SCATTER_ADD.call1(this, dim, index, src);
    }

    public Tensor maskedFill(Tensor mask, double value) {
        return Ops.MASKED_FILL.call1(this, mask, value);
    }

    public Tensor triu(long diagonal) {
        return Ops.TRIU.call1(this, diagonal);
    }

    public Tensor tril(long diagonal) {
        return Ops.TRIL.call1(this, diagonal);
    }

    public Tensor diagonal() {
        return Ops.DIAGONAL.call1(this);
    }

    // ---------------------------------------------------------------- shape

    public Tensor view(long... shape) {
        return Ops.VIEW.call1(this, shape);
    }

    public Tensor reshape(long... shape) {
        return Ops.RESHAPE.call1(this, shape);
    }

    public Tensor permute(long... dims) {
        return Ops.PERMUTE.call1(this, dims);
    }

    public Tensor transpose(int dim0, int dim1) {
        return Ops.TRANSPOSE.call1(this, dim0, dim1);
    }
    /** The transpose of a 2-D tensor. */
    public Tensor t() {
        return Ops.T.call1(this);
    }

    public Tensor contiguous() {
        return Ops.CONTIGUOUS.call1(this);
    }

    public Tensor narrow(int dim, long start, long length) {
        return Ops.NARROW.call1(this, dim, start, length);
    }

    public Tensor select(int dim, long index) {
        return Ops.SELECT.call1(this, dim, index);
    }

    public Tensor unsqueeze(int dim) {
        return Ops.UNSQUEEZE.call1(this, dim);
    }

    public Tensor squeeze(int dim) {
        return Ops.SQUEEZE.call1(this, dim);
    }

    public Tensor flatten() {
        return Ops.FLATTEN.call1(this);
    }

    public Tensor expand(long... shape) {
        return Ops.EXPAND.call1(this, shape);
    }

    public Tensor clone() {
        return Ops.CLONE.call1(this);
    }

    public Tensor detach() {
        return Ops.DETACH.call1(this);
    }

    // ---------------------------------------------------------------- conversion

    public Tensor to(DType dtype) {
        return Ops.TO_DTYPE.call1(this, dtype);
    }

    public Tensor to(Device device) {
        return Ops.TO_DEVICE.call1(this, device, dtype());
    }

    public Tensor to(Device device, DType dtype) {
        return Ops.TO_DEVICE.call1(this, device, dtype);
    }

    // ---------------------------------------------------------------- linear algebra and nn

    public Tensor matmul(Tensor o) {
        return Ops.MATMUL.call1(this, o);
    }

    public Tensor mm(Tensor o) {
        return Ops.MM.call1(this, o);
    }

    public Tensor bmm(Tensor o) {
        return Ops.BMM.call1(this, o);
    }

    public Tensor softmax(int dim) {
        return Ops.SOFTMAX.call1(this, dim);
    }

    public Tensor logSoftmax(int dim) {
        return Ops.LOG_SOFTMAX.call1(this, dim);
    }

    public Tensor silu() {
        return Ops.SILU.call1(this);
    }

    public Tensor relu() {
        return Ops.RELU.call1(this);
    }

    @Override
    public String toString() {
        if (closed) return "Tensor[closed]";
        try {
            String head = "Tensor[" + dtype() + ", " + Arrays.toString(shape()) + ", " + device();
            if (numel() <= 16 && dtype() != DType.BOOL) return head + ", " + Arrays.toString(toDoubleArray()) + "]";
            return head + "]";
        } catch (RuntimeException e) {
            return "Tensor[unreadable: " + e.getMessage() + "]";
        }
    }
}
