package io.lowbit.quant;

import io.lowbit.data.Calibration;
import io.lowbit.model.BlockStructure;
import io.lowbit.model.Interrupts;
import io.lowbit.model.Model;
import io.lowbit.model.Progress;
import io.lowbit.torch.DType;
import io.lowbit.torch.Device;
import io.lowbit.torch.Scope;
import io.lowbit.torch.Tensor;
import io.lowbit.torch.Torch;
import java.util.Arrays;
import java.util.Comparator;
import java.util.stream.IntStream;

/**
 * CLAQ for one linear layer (Wang et al., arXiv 2405.17233; reference fayuge/CLAQ claq.py): GPTQ's
 * column sweep (Frantar et al., arXiv 2210.17323, Algorithm 1: act-order, damping, Cholesky of H⁻¹,
 * lazy block updates, error feedback) with the uniform grid replaced by a K-means codebook per column,
 * fitted on the column as the earlier columns' errors have left it; a per-column bit width from the
 * columns' outlier counts (the paper's Adaptive Precision, claq.py's --outlierorder); and the largest
 * weights of each column kept exact (Outlier Reservation, --outlier_col_dynamic). Everything in float32
 * on the weight's device.
 *
 * <p>Where this differs from the reference, on purpose: a column's reserved weights are its
 * round(rows·ρ) largest magnitudes (the reference keeps the values above its sorted column at
 * round(rows·ρ) and below round(rows·(1 − ρ)), out of bounds for columns under ~125 rows), and they
 * are left out of the codebook's fit, as TaCQ's kept weights are; a column's ρ follows its own rank
 * (the reference reads the ratio of the column's position inside its 128-column block); ties between
 * equal outlier counts go to the column earlier in the sweep (the reference's torch.sort is unstable).
 */
public final class Claq {
    private Claq() {}

    /**
     * {@code bits}: every column's width without adaptive precision. {@code beta} (0: off): the average
     * width, a share (β − low)/(high − low) of the columns, those with the most |w| ≥ threshold·mean|W|,
     * getting {@code highBits} and the rest {@code lowBits}. {@code reservation}: keep round(rows·ρ) weights
     * of each column exact, ρ = reserveTop in the {@code topShare} of columns with the most outliers and
     * reserveRest elsewhere. {@code seed}, {@code maxIter}: the K-means (scikit-learn's random_state and
     * max_iter in the reference). The rest is GPTQ's.
     */
    public record Options(
            int bits,
            double beta,
            double threshold,
            int highBits,
            int lowBits,
            boolean reservation,
            double reserveTop,
            double reserveRest,
            double topShare,
            KMeans1d.Variant kmeans,
            long seed,
            int maxIter,
            int blockSize,
            double percDamp,
            boolean actOrder,
            int maxDampRetries)
            implements Method {

        public Options {
            if (bits < 1 || bits > 8 || highBits < 1 || highBits > 8 || lowBits < 1 || lowBits > 8)
                throw new IllegalArgumentException("CLAQ widths are 1 to 8 bits");
            if (beta != 0 && (beta < lowBits || beta > highBits))
                throw new IllegalArgumentException(
                        "adaptive precision β = " + beta + " lies outside [" + lowBits + ", " + highBits + "]");
            if (reserveTop < 0 || reserveTop > 1 || reserveRest < 0 || reserveRest > 1 || topShare < 0 || topShare > 1)
                throw new IllegalArgumentException("reservation fractions and the top share lie in [0, 1]");
        }

        /**
         * The reference's constants: 4 bits (its first README command), t = 13, 4-bit high columns,
         * ρ = 1.4 % / 0.4 % with the top 10 % of columns, scikit-learn's Lloyd with random_state 10 and
         * max_iter 300, GPTQ's 128-column blocks and 1 % damping, act-order (on in every README command).
         */
        public static Options defaults() {
            return new Options(
                    4, 0, 13, 4, 2, false, 0.014, 0.004, 0.10, KMeans1d.Variant.LLOYD, 10, 300, 128, 0.01, true, 150);
        }

        public Options bits(int b) {
            return new Options(
                    b,
                    beta,
                    threshold,
                    highBits,
                    lowBits,
                    reservation,
                    reserveTop,
                    reserveRest,
                    topShare,
                    kmeans,
                    seed,
                    maxIter,
                    blockSize,
                    percDamp,
                    actOrder,
                    maxDampRetries);
        }

        /** Adaptive precision with average β; the low width as the reference picks it: 2 below β = 3, else 3. */
        public Options adaptive(double b) {
            return new Options(
                    bits,
                    b,
                    threshold,
                    highBits,
                    b < 3 ? 2 : 3,
                    reservation,
                    reserveTop,
                    reserveRest,
                    topShare,
                    kmeans,
                    seed,
                    maxIter,
                    blockSize,
                    percDamp,
                    actOrder,
                    maxDampRetries);
        }

        public Options threshold(double t) {
            return new Options(
                    bits,
                    beta,
                    t,
                    highBits,
                    lowBits,
                    reservation,
                    reserveTop,
                    reserveRest,
                    topShare,
                    kmeans,
                    seed,
                    maxIter,
                    blockSize,
                    percDamp,
                    actOrder,
                    maxDampRetries);
        }

        public Options highBits(int b) {
            return new Options(
                    bits,
                    beta,
                    threshold,
                    b,
                    lowBits,
                    reservation,
                    reserveTop,
                    reserveRest,
                    topShare,
                    kmeans,
                    seed,
                    maxIter,
                    blockSize,
                    percDamp,
                    actOrder,
                    maxDampRetries);
        }

        public Options lowBits(int b) {
            return new Options(
                    bits,
                    beta,
                    threshold,
                    highBits,
                    b,
                    reservation,
                    reserveTop,
                    reserveRest,
                    topShare,
                    kmeans,
                    seed,
                    maxIter,
                    blockSize,
                    percDamp,
                    actOrder,
                    maxDampRetries);
        }

        public Options reserve() {
            return reserve(true);
        }

        public Options reserve(boolean on) {
            return new Options(
                    bits,
                    beta,
                    threshold,
                    highBits,
                    lowBits,
                    on,
                    reserveTop,
                    reserveRest,
                    topShare,
                    kmeans,
                    seed,
                    maxIter,
                    blockSize,
                    percDamp,
                    actOrder,
                    maxDampRetries);
        }

        /** Reservation on, ρ = top in the top share of columns and rest elsewhere. */
        public Options reserve(double top, double rest) {
            return new Options(
                    bits,
                    beta,
                    threshold,
                    highBits,
                    lowBits,
                    true,
                    top,
                    rest,
                    topShare,
                    kmeans,
                    seed,
                    maxIter,
                    blockSize,
                    percDamp,
                    actOrder,
                    maxDampRetries);
        }

        public Options topShare(double share) {
            return new Options(
                    bits,
                    beta,
                    threshold,
                    highBits,
                    lowBits,
                    reservation,
                    reserveTop,
                    reserveRest,
                    share,
                    kmeans,
                    seed,
                    maxIter,
                    blockSize,
                    percDamp,
                    actOrder,
                    maxDampRetries);
        }

        /** The optimal 1-D clustering ({@link KMeans1d#exact}) instead of Lloyd. */
        public Options exact() {
            return kmeans(KMeans1d.Variant.EXACT);
        }

        public Options lloyd() {
            return kmeans(KMeans1d.Variant.LLOYD);
        }

        public Options kmeans(KMeans1d.Variant v) {
            return new Options(
                    bits,
                    beta,
                    threshold,
                    highBits,
                    lowBits,
                    reservation,
                    reserveTop,
                    reserveRest,
                    topShare,
                    v,
                    seed,
                    maxIter,
                    blockSize,
                    percDamp,
                    actOrder,
                    maxDampRetries);
        }

        public Options seed(long s) {
            return new Options(
                    bits,
                    beta,
                    threshold,
                    highBits,
                    lowBits,
                    reservation,
                    reserveTop,
                    reserveRest,
                    topShare,
                    kmeans,
                    s,
                    maxIter,
                    blockSize,
                    percDamp,
                    actOrder,
                    maxDampRetries);
        }

        public Options maxIter(int n) {
            return new Options(
                    bits,
                    beta,
                    threshold,
                    highBits,
                    lowBits,
                    reservation,
                    reserveTop,
                    reserveRest,
                    topShare,
                    kmeans,
                    seed,
                    n,
                    blockSize,
                    percDamp,
                    actOrder,
                    maxDampRetries);
        }

        public Options blockSize(int b) {
            return new Options(
                    bits,
                    beta,
                    threshold,
                    highBits,
                    lowBits,
                    reservation,
                    reserveTop,
                    reserveRest,
                    topShare,
                    kmeans,
                    seed,
                    maxIter,
                    b,
                    percDamp,
                    actOrder,
                    maxDampRetries);
        }

        public Options percDamp(double p) {
            return new Options(
                    bits,
                    beta,
                    threshold,
                    highBits,
                    lowBits,
                    reservation,
                    reserveTop,
                    reserveRest,
                    topShare,
                    kmeans,
                    seed,
                    maxIter,
                    blockSize,
                    p,
                    actOrder,
                    maxDampRetries);
        }

        public Options actOrder(boolean on) {
            return new Options(
                    bits,
                    beta,
                    threshold,
                    highBits,
                    lowBits,
                    reservation,
                    reserveTop,
                    reserveRest,
                    topShare,
                    kmeans,
                    seed,
                    maxIter,
                    blockSize,
                    percDamp,
                    on,
                    maxDampRetries);
        }

        boolean adaptive() {
            return beta != 0;
        }

        @Override
        public String name() {
            return "CLAQ";
        }

        /**
         * "CLAQ adaptive 2.1 reserve" and any other option off its default; the width is the grid's, so
         * {@code bits} is left out, and so is the low width where it is the one {@link #adaptive(double)} picks.
         */
        @Override
        public String label() {
            java.util.Set<String> ignored = new java.util.HashSet<>(java.util.Set.of("bits", "beta", "reservation"));
            if (!adaptive() || lowBits == (beta < 3 ? 2 : 3)) ignored.add("lowBits");
            String rest = Method.describe(name(), this, defaults(), ignored).substring(name().length());
            return name() + (adaptive() ? " adaptive " + beta : "") + (reservation ? " reserve" : "") + rest;
        }

        int widest() {
            return adaptive() ? Math.max(highBits, lowBits) : bits;
        }
    }

    /**
     * The layer's result, columns in their original order: the dequantized weight [r, c] (reserved and
     * kept weights at their exact, updated values), each weight's centroid index [r, c] int64, the
     * codebooks [c, 2^widest] float32 (NaN past a column's 2^bits centroids), each column's width, the
     * reserved mask [r, c] bool, reserved and kept weights per column, and GPTQ's loss.
     */
    public record Result(
            Tensor weight,
            Tensor codes,
            Tensor codebooks,
            int[] bits,
            Tensor reserved,
            int[] reservedPerColumn,
            int[] keptPerColumn,
            long rows,
            double loss,
            double damping)
            implements AutoCloseable {

        /** Average code width over the columns. */
        public double averageBits() {
            return Arrays.stream(bits).average().orElse(0);
        }

        /**
         * Bits per weight as CLAQ's README labels them: a reserved weight takes 16 bits instead of its
         * column's b (2 bits with 0.5 % reserved: 2 + 0.005·14 = 2.07, its "0.07 bit of outliers"), a kept
         * weight 32 as the project counts TaCQ's; codebooks and positions are not counted.
         */
        public double paperBits() {
            double total = 0;
            for (int j = 0; j < bits.length; j++)
                total += (double) (rows - reservedPerColumn[j] - keptPerColumn[j]) * bits[j]
                        + 16.0 * reservedPerColumn[j]
                        + 32.0 * keptPerColumn[j];
            return total / ((double) rows * bits.length);
        }

        /**
         * Bits per weight that storage takes: a dense b-bit code for every weight, 2^b 16-bit centroids per
         * column, and 32 bits (16-bit value, 16-bit position) per reserved or kept weight.
         */
        public double storageBits() {
            double total = 0;
            for (int j = 0; j < bits.length; j++)
                total += (double) rows * bits[j]
                        + 16.0 * (1 << bits[j])
                        + 32.0 * (reservedPerColumn[j] + keptPerColumn[j]);
            return total / ((double) rows * bits.length);
        }

        @Override
        public void close() {
            weight.close();
            codes.close();
            codebooks.close();
            reserved.close();
        }
    }

    /**
     * Quantizes W [r, c] given its Hessian H [c, c]; {@code keep} [r, c] (bool, may be null) marks TaCQ's
     * weights kept in 16 bits: exact, left out of the codebook, no error. Returns tensors the caller owns.
     */
    public static Result quantize(Tensor weight, Tensor hessian, Options o, Tensor keep) {
        try (Scope s = Scope.open()) {
            long r = weight.size(0), c = weight.size(1);
            Tensor w = weight.to(DType.F32).clone(), h = hessian.to(DType.F32).clone();
            Tensor kp = keep == null || keep.device().equals(w.device()) ? keep : keep.to(w.device());
            // as IST-DASLab/gptq gptq.py: dead inputs are zeroed and get H_jj = 1
            Tensor dead = h.diagonal().eq(0.0);
            Tensor eye = Torch.call1("aten::eye", "", c, DType.F32, null, w.device());
            h = Torch.where(eye.gt(0.0).logicalAnd(dead.unsqueeze(0)), eye, h);
            w = w.maskedFill(dead.unsqueeze(0), 0);
            Tensor perm = null, invperm = null;
            if (o.actOrder()) {
                perm = h.diagonal().sort(0, true).indices();
                invperm = perm.sort(0, false).indices();
                w = w.indexSelect(1, perm);
                h = h.indexSelect(0, perm).indexSelect(1, perm);
                if (kp != null) kp = kp.indexSelect(1, perm);
            }
            long[] original =
                    perm == null ? IntStream.range(0, (int) c).asLongStream().toArray() : perm.toLongArray();
            int[] bits = new int[(int) c], reserveCount = new int[(int) c];
            plan(w, o, bits, reserveCount);
            Factor f = inverseCholesky(h, eye, o);
            Tensor u = f.u();
            double damping = f.damping();

            int widest = o.widest();
            Tensor q = Torch.zeros(DType.F32, w.device(), r, c), codes = Torch.zeros(DType.I64, w.device(), r, c);
            Tensor reserved = Torch.zeros(DType.BOOL, w.device(), r, c);
            Tensor books = Torch.full(Double.NaN, DType.F32, w.device(), c, 1L << widest);
            Tensor losses = Torch.zeros(DType.F32, w.device(), r);
            for (long i1 = 0; i1 < c; i1 += o.blockSize()) {
                Interrupts.check();
                long nb = Math.min(o.blockSize(), c - i1);
                try (Scope block = Scope.open()) {
                    Tensor u1 = u.narrow(0, i1, nb).narrow(1, i1, nb);
                    double[] diag = u1.diagonal().toDoubleArray(); // one read per block
                    int maxDraws = KMeans1d.draws(1 << widest);
                    double[] draws = new double[(int) nb * maxDraws];
                    for (int i = 0; i < nb; i++) {
                        double[] d = KMeans1d.uniforms(o.seed(), original[(int) (i1 + i)], 1 << bits[(int) (i1 + i)]);
                        System.arraycopy(d, 0, draws, i * maxDraws, d.length);
                    }
                    Tensor uniforms = Torch.tensor(draws, nb, maxDraws).to(w.device());
                    Tensor w1 = w.narrow(1, i1, nb).clone(), e1 = Torch.zeros(DType.F32, w.device(), r, nb);
                    Sweep out = new Sweep(q, codes, reserved, books, losses);
                    for (int i = 0; i < nb; i++) {
                        int j = (int) (i1 + i);
                        try (Scope col = Scope.open()) {
                            Tensor err = column(
                                    w1.select(1, i),
                                    kp == null ? null : kp.select(1, j),
                                    bits[j],
                                    reserveCount[j],
                                    uniforms.select(0, i),
                                    o,
                                    j,
                                    diag[i],
                                    out);
                            // Algorithm 1: W[:, i:] −= E[:, i]·U[i, i:] inside the block
                            Tensor row = u1.select(0, i).narrow(0, i, nb - i).unsqueeze(0);
                            w1.narrow(1, i, nb - i).addInPlace(err.unsqueeze(1).mul(row), -1);
                            e1.select(1, i).copyFrom(err);
                        }
                    }
                    if (i1 + nb < c) { // the lazy update of every later column: one product per block
                        long rest = c - i1 - nb;
                        w.narrow(1, i1 + nb, rest)
                                .addInPlace(e1.mm(u.narrow(0, i1, nb).narrow(1, i1 + nb, rest)), -1);
                    }
                }
            }
            int[] naturalBits = bits;
            if (invperm != null) {
                q = q.indexSelect(1, invperm);
                codes = codes.indexSelect(1, invperm);
                reserved = reserved.indexSelect(1, invperm);
                books = books.indexSelect(0, invperm);
                naturalBits = new int[(int) c];
                for (int j = 0; j < c; j++) naturalBits[(int) original[j]] = bits[j];
            }
            int[] reservedPerColumn = reserved.sum(0).toIntArray();
            int[] keptPerColumn = keep == null ? new int[(int) c] : keep.sum(0).toIntArray();
            double loss = losses.sum().item();
            return new Result(
                    s.keep(q).escape(),
                    s.keep(codes).escape(),
                    s.keep(books).escape(),
                    naturalBits,
                    s.keep(reserved).escape(),
                    reservedPerColumn,
                    keptPerColumn,
                    r,
                    loss,
                    damping);
        }
    }

    /**
     * A new CLAQ-quantized model (the original is untouched), driven as {@link Gptq#run} drives GPTQ
     * (IST-DASLab/gptq llama.py, which fayuge/CLAQ keeps): block by block on the quantized chain, the
     * linears in true-sequential groups ({@link BlockStructure#GROUPS}), one Hessian per group collected
     * from the partly quantized block, {@link #quantize} on each linear. The grid gives the width b
     * (claq.py's --wbits; with adaptive precision it must be the low width, 2 below β = 3, else 3), and
     * {@code o.bits()} is not read here; CLAQ has no groups, symmetric grids or range search, so a grid
     * asking for them is refused. {@code mask} (may be null): TaCQ's kept weights, exact and left out
     * of every codebook.
     */
    public static QuantizedModel run(
            Model m, Grid grid, Calibration cal, Mask mask, Options o, Progress progress, Device work) {
        if (cal == null) throw new IllegalArgumentException("CLAQ needs a calibration set");
        if (grid.groupSize() > 0 || grid.sym() || grid.mseSearch())
            throw new IllegalArgumentException("CLAQ fits a K-means codebook per column: it takes only the width, "
                    + "bits(" + grid.bits() + "), not " + grid);
        if (o.adaptive() && grid.bits() != o.lowBits())
            throw new IllegalArgumentException("CLAQ adaptive β = " + o.beta() + " mixes " + o.lowBits() + " and "
                    + o.highBits() + " bits: quantize with bits(" + o.lowBits() + ")");
        Options layer = o.bits(grid.bits());
        return Gptq.trueSequential(m, grid, cal, mask, o, progress, work, "CLAQ blocks", (l, hessian, keep, home) -> {
            Result r = quantize(l.weight(), hessian, layer, keep);
            l.setWeight(r.weight().to(l.weight().dtype()).escape());
            r.weight().close();
            return QuantizedLinear.claq(l.name(), grid, r, keep, home);
        });
    }

    /** Where the sweep writes, columns in sweep order. */
    private record Sweep(Tensor q, Tensor codes, Tensor reserved, Tensor books, Tensor losses) {}

    /**
     * One column x [r] as the earlier columns' errors have left it: reserve its largest weights, fit its
     * codebook to the weights neither reserved nor kept, round the others to their nearest centroid.
     * Writes column j of the outputs, adds its loss, and returns its scaled error (x − q)/d [r], 0 where
     * exact. Tensor ops on the weight's device; no column data comes back to the host (Lloyd reads only
     * its convergence flag: every update on a CPU, every 16th on a GPU).
     */
    private static Tensor column(
            Tensor x, Tensor kept, int bits, int reserve, Tensor draws, Options o, int j, double d, Sweep out) {
        int k = 1 << bits;
        Tensor reserved = reserve == 0 ? null : largest(x, kept, reserve);
        Tensor exact = kept == null ? reserved : reserved == null ? kept : kept.logicalOr(reserved);
        Tensor row = x.unsqueeze(0),
                fitWeight = exact == null ? null : exact.logicalNot().unsqueeze(0);
        KMeans1d.Fit fit = o.kmeans() == KMeans1d.Variant.EXACT
                ? KMeans1d.exact(row, fitWeight, k)
                : KMeans1d.lloyd(
                        row, fitWeight, k, draws.narrow(0, 0, KMeans1d.draws(k)).unsqueeze(0), o.maxIter());
        Tensor q = fit.centroids().gather(1, fit.labels()).squeeze(0);
        if (exact != null) q = Torch.where(exact, x, q);
        out.q().select(1, j).copyFrom(q);
        out.codes().select(1, j).copyFrom(fit.labels().squeeze(0));
        if (reserved != null) out.reserved().select(1, j).copyFrom(reserved);
        out.books().select(0, j).narrow(0, 0, k).copyFrom(fit.centroids().squeeze(0));
        Tensor err = x.sub(q).div(d);
        out.losses().addInPlace(err.square().div(2));
        return err;
    }

    /**
     * Each column's outlier count, |w| ≥ threshold·mean|W| on W as it enters the sweep (dead columns
     * zeroed, act-ordered, no updates yet, as claq.py), in sweep order. One read per layer.
     */
    static long[] outlierCounts(Tensor w, double threshold) {
        try (Scope s = Scope.open()) {
            Tensor a = w.abs();
            return a.lt(a.mean().mul(threshold)).logicalNot().sum(0).toLongArray();
        }
    }

    /**
     * Columns by outlier count, most first; equal counts keep sweep order (with act-order: the larger
     * Hessian diagonal first), which the reference's unstable torch.sort leaves to chance.
     */
    static int[] ranking(long[] counts) {
        return IntStream.range(0, counts.length)
                .boxed()
                .sorted(Comparator.<Integer>comparingLong(j -> -counts[j]).thenComparingInt(j -> j))
                .mapToInt(Integer::intValue)
                .toArray();
    }

    /** Fills each column's width and reserved count (sweep order) from the options and W's outliers. */
    static void plan(Tensor w, Options o, int[] bits, int[] reserveCount) {
        int c = bits.length;
        long rows = w.size(0);
        Arrays.fill(bits, o.bits());
        if (!o.adaptive() && !o.reservation()) return;
        int[] rank = ranking(outlierCounts(w, o.threshold()));
        if (o.adaptive()) {
            double share = o.highBits() == o.lowBits() ? 0 : (o.beta() - o.lowBits()) / (o.highBits() - o.lowBits());
            long high = Math.round(Math.rint(c * share));
            for (int p = 0; p < c; p++) bits[rank[p]] = p < high ? o.highBits() : o.lowBits();
        }
        if (o.reservation()) {
            long top = Math.round(Math.rint(c * o.topShare()));
            for (int p = 0; p < c; p++)
                reserveCount[rank[p]] = (int) Math.rint(rows * (p < top ? o.reserveTop() : o.reserveRest()));
        }
    }

    /**
     * The n largest |x| of a column, TaCQ's kept weights left out (they are exact already), as a bool
     * mask [r]; equal magnitudes go to the lower row (a stable sort).
     */
    static Tensor largest(Tensor x, Tensor kept, int n) {
        try (Scope s = Scope.open()) {
            Tensor key = kept == null ? x.abs() : x.abs().maskedFill(kept, -1);
            Tensor order = Torch.call("aten::sort", "stable", key, true, 0L, true)[1];
            Tensor top = order.narrow(0, 0, Math.min(n, x.size(0)));
            return s.keep(Torch.zeros(DType.F32, x.device(), x.size(0))
                    .scatter(0, top, 1.0)
                    .gt(0.5));
        }
    }

    private record Factor(Tensor u, double damping) {}

    /** GPTQ's damping, retried while the Cholesky fails, then U = chol(H⁻¹) upper (as {@link Gptq}). */
    private static Factor inverseCholesky(Tensor h, Tensor eye, Options o) {
        try (Scope s = Scope.open()) {
            double lambda = o.percDamp() * h.diagonal().mean().item(), damping = 0;
            for (int attempt = 0; attempt <= o.maxDampRetries(); attempt++) {
                damping += lambda;
                Torch.Cholesky l = Torch.choleskyEx(h.add(eye.mul(damping)), false);
                if (!l.ok()) continue;
                Torch.Cholesky upper = Torch.choleskyEx(Torch.choleskyInverse(l.factor(), false), true);
                if (upper.ok()) return new Factor(s.keep(upper.factor()), damping);
            }
            throw new IllegalStateException(
                    "CLAQ: the Hessian stayed indefinite after " + o.maxDampRetries() + " rounds of damping (λ = "
                            + lambda + " each); the calibration set may be too small for this layer");
        }
    }
}
