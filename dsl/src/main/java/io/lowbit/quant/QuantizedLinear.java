package io.lowbit.quant;

import io.lowbit.torch.DType;
import io.lowbit.torch.Device;
import io.lowbit.torch.Tensor;

/**
 * One quantized linear: integer codes [out, in] (u8), scales and zeros [out, groups] (float32), the
 * group of each input column, the mask of weights kept in 16 bits (or null), and its GPTQ error.
 * Dequantized: scale·(code − zero), kept weights in place (the model's dense weight holds that).
 * A CLAQ layer has no scales and zeros (null) but {@link Codebooks}: a code is an index into its
 * column's centroids.
 */
public record QuantizedLinear(
        String name,
        int bits,
        int groupSize,
        Tensor codes,
        Tensor scales,
        Tensor zeros,
        int[] groupOfColumn,
        Tensor keep,
        long kept,
        double loss,
        Codebooks codebooks)
        implements AutoCloseable {

    /** A layer on a uniform grid (no codebooks). */
    public QuantizedLinear(
            String name,
            int bits,
            int groupSize,
            Tensor codes,
            Tensor scales,
            Tensor zeros,
            int[] groupOfColumn,
            Tensor keep,
            long kept,
            double loss) {
        this(name, bits, groupSize, codes, scales, zeros, groupOfColumn, keep, kept, loss, null);
    }

    /**
     * CLAQ's per-column codebooks (Wang et al., arXiv 2405.17233, §3): centroids [in, 2^widest] float32
     * (NaN past a column's 2^bits), each column's width, the reserved (exact, 16-bit) weights [out, in]
     * bool, and per column the reserved and the kept weights.
     */
    public record Codebooks(
            Tensor centroids, int[] columnBits, Tensor reserved, int[] reservedPerColumn, int[] keptPerColumn) {}

    /**
     * A layer's record with its tensors beside the model ({@code home}: host memory when the work is on
     * a GPU), codes as u8; takes ownership of codes, scales and zeros, copies {@code keep}.
     */
    static QuantizedLinear stored(
            String name,
            Grid grid,
            Tensor codes,
            Tensor scales,
            Tensor zeros,
            int[] groupOf,
            Tensor keep,
            double loss,
            Device home) {
        // handles share storage, so closing the inputs below frees nothing these still use
        Tensor k = keep == null ? null : keep.to(home).escape();
        Tensor bytes = codes.to(home, DType.U8).escape();
        Tensor sc = scales.to(home).escape(), zr = zeros.to(home).escape();
        codes.close();
        scales.close();
        zeros.close();
        return new QuantizedLinear(
                name,
                grid.bits(),
                grid.groupSize(),
                bytes,
                sc,
                zr,
                groupOf,
                k,
                k == null ? 0 : k.sum().itemLong(),
                loss);
    }

    /**
     * A CLAQ layer's record beside the model: takes ownership of the result's codes, codebooks and
     * reserved mask (not its dense weight), copies {@code keep}.
     */
    static QuantizedLinear claq(String name, Grid grid, Claq.Result r, Tensor keep, Device home) {
        Tensor k = keep == null ? null : keep.to(home).escape();
        Tensor bytes = r.codes().to(home, DType.U8).escape();
        Tensor books = r.codebooks().to(home).escape(),
                reserved = r.reserved().to(home).escape();
        r.codes().close();
        r.codebooks().close();
        r.reserved().close();
        int[] columns = new int[r.bits().length];
        for (int j = 0; j < columns.length; j++) columns[j] = j; // one "group" per column: its codebook
        return new QuantizedLinear(
                name,
                grid.bits(),
                -1,
                bytes,
                null,
                null,
                columns,
                k,
                k == null ? 0 : k.sum().itemLong(),
                r.loss(),
                new Codebooks(
                        books,
                        r.bits().clone(),
                        reserved,
                        r.reservedPerColumn().clone(),
                        r.keptPerColumn().clone()));
    }

    public long numel() {
        return codes.numel();
    }

    /** Rows (output features). */
    long rows() {
        return codes.size(0);
    }

    /**
     * Bits as the papers count them: b per quantized weight, 32 per kept weight (TaCQ); for CLAQ each
     * column's own b, and 16 per reserved weight (its README's "0.07 bit of outliers" convention).
     */
    public double paperBits() {
        if (codebooks == null) return (double) bits * (numel() - kept) + 32.0 * kept;
        double total = 0;
        long r = rows();
        for (int j = 0; j < codebooks.columnBits.length; j++) {
            int res = codebooks.reservedPerColumn[j], kp = codebooks.keptPerColumn[j];
            total += (double) (r - res - kp) * codebooks.columnBits[j] + 16.0 * res + 32.0 * kp;
        }
        return total;
    }

    /**
     * Bits this layer really takes: a code per weight (kept ones included, as a dense code array has
     * them), per row and group a 16-bit scale and a bits-wide zero, 32 per kept weight (16-bit value
     * plus 16-bit index). CLAQ: each column's b-bit codes and 2^b 16-bit centroids, and 32 per reserved
     * or kept weight.
     */
    public double storageBits() {
        if (codebooks == null) {
            long ranges = scales.numel();
            return (double) numel() * bits + ranges * (16.0 + bits) + 32.0 * kept;
        }
        double total = 0;
        long r = rows();
        for (int j = 0; j < codebooks.columnBits.length; j++) {
            int b = codebooks.columnBits[j];
            total += (double) r * b
                    + 16.0 * (1 << b)
                    + 32.0 * (codebooks.reservedPerColumn[j] + codebooks.keptPerColumn[j]);
        }
        return total;
    }

    @Override
    public void close() {
        codes.close();
        if (scales != null) scales.close();
        if (zeros != null) zeros.close();
        if (keep != null) keep.close();
        if (codebooks != null) {
            codebooks.centroids.close();
            codebooks.reserved.close();
        }
    }
}
