package io.lowbit.quant;

import io.lowbit.torch.DType;
import io.lowbit.torch.Scope;
import io.lowbit.torch.Tensor;
import io.lowbit.torch.Torch;

/**
 * The uniform quantizer of llmc (ModelTC/llmc llmc/compression/quantization/quant.py), which AWQ
 * and TesseraQ use and which differs from GPTQ's: each group's range is its own min and max, not
 * stretched to hold 0, and the zero point is an integer. A weight [r, c] is seen as groups
 * [r·⌈c/g⌉, g], row-major; when g does not divide c the last group of each row is padded by
 * repeating its last column, which leaves its min and max as they are.
 */
final class MinMaxGroups {
    final long rows, cols, groupSize, groupsPerRow;
    final int maxq;

    MinMaxGroups(long rows, long cols, Grid grid) {
        if (grid.sym())
            throw new IllegalArgumentException("AWQ and TesseraQ use llmc's asymmetric grid; drop .symmetric()");
        if (grid.mseSearch())
            throw new IllegalArgumentException("AWQ and TesseraQ choose ranges by their own clip search; drop .mse()");
        this.rows = rows;
        this.cols = cols;
        this.groupSize = grid.groupSize() > 0 ? Math.min(grid.groupSize(), cols) : cols;
        this.groupsPerRow = (cols + groupSize - 1) / groupSize;
        this.maxq = grid.maxq();
    }

    long paddedCols() {
        return groupsPerRow * groupSize;
    }

    /** The group of each input column, as QuantizedLinear records it. */
    int[] groupOfColumn() {
        int[] g = new int[(int) cols];
        for (int j = 0; j < g.length; j++) g[j] = (int) (j / groupSize);
        return g;
    }

    /** w [r, c] as groups [r·⌈c/g⌉, g] (float32; padded by the last column's value). */
    Tensor grouped(Tensor w) {
        try (Scope s = Scope.open()) {
            Tensor f = w.to(DType.F32);
            long pad = paddedCols() - cols;
            if (pad > 0)
                f = Torch.cat(java.util.List.of(f, f.narrow(1, cols - 1, 1).expand(rows, pad)), 1);
            return s.keep(f.reshape(rows * groupsPerRow, groupSize));
        }
    }

    /** Groups [r·⌈c/g⌉, g] back to [r, c]. */
    Tensor ungrouped(Tensor g) {
        try (Scope s = Scope.open()) {
            Tensor w = g.reshape(rows, paddedCols());
            return s.keep(paddedCols() == cols ? w : w.narrow(1, 0, cols).contiguous());
        }
    }

    /** Zero-padded input columns [.., c] → [.., ⌈c/g⌉·g], so padded weights meet zeros. */
    Tensor paddedInput(Tensor x) {
        long pad = paddedCols() - cols;
        if (pad == 0) return x.share();
        try (Scope s = Scope.open()) {
            long[] shape = x.shape().clone();
            shape[shape.length - 1] = pad;
            return s.keep(Torch.cat(java.util.List.of(x, Torch.zeros(x.dtype(), x.device(), shape)), -1));
        }
    }

    /** Scale and integer zero per group of wg [n, g]: s = max(max − min, 1e−5)/maxq, z = clamp(−round(min/s), 0, maxq). */
    Quantizer.Params fit(Tensor wg) {
        try (Scope s = Scope.open()) {
            Tensor lo = wg.amin(new long[] {1}, true), hi = wg.amax(new long[] {1}, true);
            Tensor scale = hi.sub(lo).clamp(1e-5, null).div(maxq);
            Tensor zero = lo.div(scale).round().neg().clamp(0.0, (double) maxq);
            return new Quantizer.Params(s.keep(scale), s.keep(zero)).escape();
        }
    }

    /** Codes clamp(round(wg/s) + z, 0, maxq), float32. */
    Tensor codes(Tensor wg, Quantizer.Params p) {
        try (Scope s = Scope.open()) {
            return s.keep(wg.div(p.scale()).round().add(p.zero()).clamp(0.0, (double) maxq));
        }
    }

    /** Round to nearest on the groups' own min-max grid. */
    Tensor fake(Tensor wg) {
        try (Scope s = Scope.open();
                Quantizer.Params p = fit(wg)) {
            return s.keep(codes(wg, p).sub(p.zero()).mul(p.scale()));
        }
    }

    /** The dense weight [r, c] from codes [r, c] and per-group scales and zeros [r, groups], in {@code dtype}. */
    Tensor dense(Tensor codes, Tensor scales, Tensor zeros, DType dtype) {
        try (Scope s = Scope.open()) {
            Tensor level = grouped(codes).sub(zeros.reshape(-1, 1)).mul(scales.reshape(-1, 1));
            return s.keep(ungrouped(level).to(dtype));
        }
    }

    /** RTN of a whole weight [r, c] on this grid, back as [r, c] float32. */
    Tensor fakeWeight(Tensor w) {
        try (Scope s = Scope.open()) {
            return s.keep(ungrouped(fake(grouped(w))));
        }
    }
}
