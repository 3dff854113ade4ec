package io.lowbit.quant;

import io.lowbit.model.Interrupts;
import io.lowbit.torch.DType;
import io.lowbit.torch.Device;
import io.lowbit.torch.Scope;
import io.lowbit.torch.Tensor;
import io.lowbit.torch.Torch;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import java.util.function.UnaryOperator;

/**
 * Which weights stay in 16 bits: the top fraction of scores (TaCQ, arXiv 2504.07389, §3). Global by default:
 * one top-k over every scored weight of the model, k = ⌊p·P⌋, P = the number of scored weights;
 * per matrix and per row as options. Ties are broken by position (linear order, then row-major
 * index), so the same scores always give the same mask.
 */
public final class Keep {
    private Keep() {}

    /** k = ⌊fraction·P⌋ weights over all linears; {@code scores} in linear order (not closed here). */
    public static Mask global(Map<String, Tensor> scores, double fraction) {
        return global(new ArrayList<>(scores.keySet()), n -> scores.get(n).share(), fraction, home(scores));
    }

    /**
     * The same mask without ever holding more than one linear's scores: {@code scores} gives a
     * linear's scores as a new tensor (closed here) and is asked three times per linear; the masks go
     * to {@code home}. The k-th largest score is found exactly from two 65,536-bin histograms of the
     * float32 bits (high half, then low half inside the chosen bin), which order like the values
     * once mapped by {@link #keys}; then everything above it is kept, and those equal to it by position.
     * An 8B model's 7 billion scores need 28 GB at once the other way.
     */
    public static Mask global(List<String> names, Function<String, Tensor> scores, double fraction, Device home) {
        check(fraction);
        long[] high = new long[BINS];
        long total = 0;
        for (String n : names) { // pass 1: how many, and the histogram of the high halves
            Interrupts.check();
            try (Scope s = Scope.open()) {
                Tensor v = scores.apply(n);
                if (v.isnan().sum().itemLong() > 0)
                    throw new IllegalArgumentException("the scores of " + n + " contain NaN");
                total += v.numel();
                add(high, histogram(highHalf(keys(v))));
                v.close();
            }
        }
        long k = (long) Math.floor(fraction * total);
        int top = -1;
        long aboveTop = 0;
        for (int b = BINS - 1; b >= 0 && k > 0; b--) {
            if (aboveTop + high[b] >= k) {
                top = b;
                break;
            }
            aboveTop += high[b];
        }
        long[] low = new long[BINS];
        if (top >= 0) {
            for (String n : names) { // pass 2: the low halves inside the bin that holds the k-th largest
                Interrupts.check();
                try (Scope s = Scope.open()) {
                    Tensor v = scores.apply(n);
                    Tensor key = keys(v);
                    Tensor in = highHalf(key).eq((double) top);
                    add(
                            low,
                            histogram(Torch.call1(
                                    "aten::masked_select",
                                    "",
                                    Torch.call1("aten::remainder", "Scalar", key, (long) BINS),
                                    in)));
                    v.close();
                }
            }
        }
        int bottom = -1;
        long above = aboveTop;
        for (int b = BINS - 1; b >= 0 && top >= 0; b--) {
            if (above + low[b] >= k) {
                bottom = b;
                break;
            }
            above += low[b];
        }
        double t = top < 0 ? Double.POSITIVE_INFINITY : valueOf((long) top * BINS + bottom); // the k-th largest
        long equalNeeded = k - above; // of those equal to t
        Map<String, Tensor> kept = new LinkedHashMap<>();
        try {
            for (String n : names) { // pass 3: the masks
                Interrupts.check();
                try (Scope s = Scope.open()) {
                    Tensor v = scores.apply(n).to(DType.F32);
                    Tensor mask = v.gt(t);
                    if (equalNeeded > 0) {
                        Tensor equal = v.eq(t).reshape(-1);
                        long here = equal.sum().itemLong();
                        if (here > 0) {
                            Tensor first = equal.logicalAnd(
                                    equal.to(DType.I64).cumsum(0).lt(equalNeeded + 0.5));
                            mask = mask.logicalOr(first.reshape(v.shape()));
                            equalNeeded -= Math.min(here, equalNeeded);
                        }
                    }
                    kept.put(n, s.keep(mask.to(home).contiguous()).escape());
                    v.close();
                }
            }
        } catch (RuntimeException | Error e) {
            kept.values().forEach(Tensor::close);
            throw e;
        }
        return new Mask(kept);
    }

    private static final int BINS = 1 << 16;

    /**
     * Each float32 value as an integer in [0, 2³²) of the same order: the bits of a non-negative
     * value plus 2³¹, the bits of a negative one flipped (−0 counts as +0, as comparisons do).
     */
    static Tensor keys(Tensor v) {
        try (Scope s = Scope.open()) {
            Tensor f = v.to(DType.F32).reshape(-1).add(0.0); // −0 + 0 = +0
            Tensor bits = Torch.call1("aten::view", "dtype", f, DType.I32).to(DType.I64);
            Tensor nonNegative = Torch.call1("aten::add", "Scalar", bits, 1L << 31),
                    negative = Torch.call1("aten::sub", "Scalar", bits.neg(), 1L);
            return s.keep(Torch.where(
                    bits.ge(0), nonNegative, negative)); // integer scalars: a double would turn the keys into floats
        }
    }

    /** The float32 value whose key is {@code key}. */
    static double valueOf(long key) {
        int bits = key >= (1L << 31) ? (int) (key - (1L << 31)) : (int) (-key - 1);
        return Float.intBitsToFloat(bits);
    }

    private static Tensor highHalf(Tensor keys) {
        return Torch.call1("aten::div", "Scalar_mode", keys, (long) BINS, "floor");
    }

    private static Tensor histogram(Tensor bins) {
        return Torch.call1("aten::bincount", "", bins, null, (long) BINS);
    }

    private static void add(long[] into, Tensor counts) {
        long[] c = counts.to(Device.cpu()).toLongArray();
        for (int i = 0; i < c.length; i++) into[i] += c[i];
    }

    /** ⌊fraction·n⌋ weights in each matrix of n weights. */
    public static Mask perMatrix(Map<String, Tensor> scores, double fraction) {
        return perMatrix(new ArrayList<>(scores.keySet()), n -> scores.get(n).share(), fraction, home(scores));
    }

    /** {@link #perMatrix(Map, double)} one linear's scores at a time (a new tensor each, closed here); masks on {@code home}. */
    public static Mask perMatrix(List<String> names, Function<String, Tensor> scores, double fraction, Device home) {
        return eachMatrix(
                names,
                scores,
                fraction,
                home,
                t -> topK(t.reshape(-1), (long) Math.floor(fraction * t.numel()))
                        .reshape(t.shape()));
    }

    /** ⌊fraction·in⌋ weights in each row. */
    public static Mask perRow(Map<String, Tensor> scores, double fraction) {
        return perRow(new ArrayList<>(scores.keySet()), n -> scores.get(n).share(), fraction, home(scores));
    }

    /** {@link #perRow(Map, double)} one linear's scores at a time (a new tensor each, closed here); masks on {@code home}. */
    public static Mask perRow(List<String> names, Function<String, Tensor> scores, double fraction, Device home) {
        return eachMatrix(names, scores, fraction, home, t -> {
            long k = (long) Math.floor(fraction * t.size(1));
            List<Tensor> rows = new ArrayList<>();
            for (long r = 0; r < t.size(0); r++) rows.add(topK(t.select(0, r), k));
            return Torch.stack(rows, 0);
        });
    }

    private static Device home(Map<String, Tensor> scores) {
        return scores.isEmpty()
                ? Device.cpu()
                : scores.values().iterator().next().device();
    }

    /** A mask per matrix from its float32 scores, one matrix at a time. */
    private static Mask eachMatrix(
            List<String> names,
            Function<String, Tensor> scores,
            double fraction,
            Device home,
            UnaryOperator<Tensor> pick) {
        check(fraction);
        Map<String, Tensor> kept = new LinkedHashMap<>();
        try {
            for (String n : names) {
                Interrupts.check();
                try (Scope s = Scope.open()) {
                    Tensor v = scores.apply(n);
                    kept.put(
                            n,
                            s.keep(pick.apply(v.to(DType.F32)).to(home).contiguous())
                                    .escape());
                    v.close();
                }
            }
        } catch (RuntimeException | Error e) {
            kept.values().forEach(Tensor::close);
            throw e;
        }
        return new Mask(kept);
    }

    /**
     * A boolean mask of the k largest values of v [n]: every value above the k-th largest, then the
     * first (by index) of those equal to it until there are k. O(n) memory, no sort.
     */
    static Tensor topK(Tensor v, long k) {
        try (Scope s = Scope.open()) {
            if (k <= 0) return s.keep(v.gt(Double.POSITIVE_INFINITY));
            if (k >= v.numel()) return s.keep(v.eq(v).logicalOr(v.isnan()));
            Tensor kth = Torch.call("aten::kthvalue", "", v.neg(), k, 0L, false)[0].neg(); // the k-th largest
            double t = kth.item();
            Tensor above = v.gt(t);
            long need = k - above.sum().itemLong();
            Tensor equal = v.eq(t);
            Tensor firstEqual = equal.logicalAnd(equal.to(DType.I64).cumsum(0).lt(need + 0.5));
            return s.keep(above.logicalOr(firstEqual));
        }
    }

    private static void check(double fraction) {
        if (!(fraction >= 0 && fraction <= 1))
            throw new IllegalArgumentException(
                    "the fraction kept must be in [0, 1] (0.0035 is 0.35 %), not " + fraction);
    }
}
