package io.lowbit.quant;

import io.lowbit.torch.DType;
import io.lowbit.torch.Device;
import io.lowbit.torch.Scope;
import io.lowbit.torch.Tensor;
import io.lowbit.torch.Torch;
import java.util.LinkedHashMap;
import java.util.SequencedMap;

/**
 * One quantized linear as it is really stored: codes packed {@code bits} to a value in int32 words,
 * row by row along the input (the little-endian bit stream of {@link GptqFormat}, so 3-bit values
 * cross word boundaries), per row and group a float32 scale and a u8 zero, each input column's group,
 * and the kept weights as a row-compressed sparse matrix (row starts, column indices, values in the
 * dense model's dtype). Its product unpacks on the fly with tensor ops and equals the dense one.
 *
 * @param words int32 [rows, ⌈cols·bits/32⌉]
 * @param scales float32 [rows, groups]
 * @param zeros u8 [rows, groups]
 * @param groupOfColumn int32 [cols]
 * @param rowStart int32 [rows + 1]: row r's kept weights are entries rowStart[r] … rowStart[r+1] − 1
 * @param keptColumns int32 [kept]
 * @param keptValues [kept], the dense model's dtype
 */
public record PackedLinear(
        String name,
        int bits,
        long rows,
        long cols,
        Tensor words,
        Tensor scales,
        Tensor zeros,
        Tensor groupOfColumn,
        Tensor rowStart,
        Tensor keptColumns,
        Tensor keptValues)
        implements AutoCloseable {

    /** Packs {@code q}; the kept weights' values come from the dense (fake-quant) weight, where they stand. */
    public static PackedLinear of(QuantizedLinear q, Tensor denseWeight) {
        int rows = (int) q.codes().size(0), cols = (int) q.codes().size(1);
        int perRow = (int) ((cols * (long) q.bits() + 31) / 32);
        int[] codes = q.codes().to(Device.CPU, DType.I32).toIntArray();
        int[] words = new int[rows * perRow];
        for (int r = 0; r < rows; r++)
            for (int i = 0; i < cols; i++) GptqFormat.put(words, r * perRow, 1, i, codes[r * cols + i], q.bits());
        int[] rowStart = new int[rows + 1];
        java.util.List<Integer> columns = new java.util.ArrayList<>();
        boolean[] keep = q.keep() == null ? null : q.keep().to(Device.CPU).toBooleanArray();
        for (int r = 0; r < rows; r++) {
            if (keep != null) for (int i = 0; i < cols; i++) if (keep[r * cols + i]) columns.add(i);
            rowStart[r + 1] = columns.size();
        }
        int[] cs = columns.stream().mapToInt(Integer::intValue).toArray();
        long[] flat = flatIndex(rowStart, cs, cols);
        try (Scope s = Scope.open()) {
            Tensor at = Torch.tensor(flat, flat.length).to(Device.CPU);
            Tensor values = denseWeight.to(Device.CPU).flatten().indexSelect(0, at);
            return new PackedLinear(
                    q.name(),
                    q.bits(),
                    rows,
                    cols,
                    s.keep(Torch.tensor(words, rows, perRow).to(Device.CPU)).escape(),
                    s.keep(q.scales().to(Device.CPU, DType.F32)).escape(),
                    s.keep(q.zeros().to(Device.CPU, DType.U8)).escape(),
                    s.keep(Torch.tensor(q.groupOfColumn(), cols).to(Device.CPU)).escape(),
                    s.keep(Torch.tensor(rowStart, rows + 1).to(Device.CPU)).escape(),
                    s.keep(Torch.tensor(cs, cs.length).to(Device.CPU)).escape(),
                    s.keep(values.contiguous()).escape());
        }
    }

    private static long[] flatIndex(int[] rowStart, int[] columns, long cols) {
        long[] flat = new long[columns.length];
        for (int r = 0; r + 1 < rowStart.length; r++)
            for (int k = rowStart[r]; k < rowStart[r + 1]; k++) flat[k] = r * cols + columns[k];
        return flat;
    }

    public long kept() {
        return keptColumns.numel();
    }

    /** Bytes of the codes. */
    public long codeBytes() {
        return words.byteSize();
    }

    /** Bytes of scales, zeros and the column-to-group index. */
    public long scaleBytes() {
        return scales.byteSize() + zeros.byteSize() + groupOfColumn.byteSize();
    }

    /** Bytes of the sparse kept weights: row starts, column indices, values. */
    public long outlierBytes() {
        return rowStart.byteSize() + keptColumns.byteSize() + keptValues.byteSize();
    }

    public long bytes() {
        return codeBytes() + scaleBytes() + outlierBytes();
    }

    /** The codes [rows, cols] as float32, unpacked with tensor ops (exact: every step is on integers below 2^53). */
    public Tensor codes() {
        try (Scope s = Scope.open()) {
            Device d = words.device();
            long perRow = words.size(1);
            long[] word = new long[(int) cols], next = new long[(int) cols];
            double[] down = new double[(int) cols], up = new double[(int) cols];
            for (int i = 0; i < cols; i++) {
                long p = (long) i * bits;
                word[i] = p >>> 5;
                next[i] = Math.min(word[i] + 1, perRow - 1);
                down[i] = Math.scalb(1.0, (int) (p & 31));
                up[i] = Math.scalb(1.0, 32 - (int) (p & 31));
            }
            double m = Math.scalb(1.0, bits);
            Tensor w = words.to(DType.F64);
            Tensor u = Torch.where(w.lt(0.0), w.add(Math.scalb(1.0, 32)), w); // the words as unsigned
            Tensor lo = u.indexSelect(1, Torch.tensor(word, cols).to(d))
                    .div(Torch.tensor(down, cols).to(d))
                    .floor();
            Tensor n = u.indexSelect(1, Torch.tensor(next, cols).to(d));
            // a value crossing into the next word takes that word's low bits; the bits it does not use fall above
            // 2^bits and go in the final remainder, so no branch is needed
            Tensor hi = mod(n, m).mul(Torch.tensor(up, cols).to(d));
            return s.keep(mod(lo.add(hi), m).to(DType.F32));
        }
    }

    private static Tensor mod(Tensor x, double m) {
        return x.sub(x.div(m).floor().mul(m));
    }

    /** The dense weight [rows, cols]: scale·(code − zero) with each column's group, kept weights in place. */
    public Tensor weight(DType dtype) {
        try (Scope s = Scope.open()) {
            Tensor g = groupOfColumn.to(DType.I64);
            Tensor w = codes().sub(zeros.to(DType.F32).indexSelect(1, g)).mul(scales.indexSelect(1, g));
            if (kept() > 0) {
                long[] flat = flatIndex(rowStart.toIntArray(), keptColumns.toIntArray(), cols);
                Tensor idx = Torch.tensor(flat, flat.length).to(w.device());
                w = w.flatten().scatter(0, idx, keptValues.to(DType.F32)).reshape(rows, cols);
            }
            return s.keep(w.to(dtype));
        }
    }

    /** x·Wᵀ with W unpacked for this product only (x's dtype and device). */
    public Tensor forward(Tensor x) {
        try (Scope s = Scope.open()) {
            return s.keep(Torch.linear(x, weight(x.dtype()).to(x.device()), null));
        }
    }

    /** The stored tensors under {@code prefix}.NAME, for a safetensors file. */
    public SequencedMap<String, Tensor> tensors(String prefix) {
        SequencedMap<String, Tensor> t = new LinkedHashMap<>();
        t.put(prefix + ".qweight", words);
        t.put(prefix + ".scales", scales);
        t.put(prefix + ".zeros", zeros);
        t.put(prefix + ".g_idx", groupOfColumn);
        t.put(prefix + ".kept_row_start", rowStart);
        t.put(prefix + ".kept_columns", keptColumns);
        t.put(prefix + ".kept_values", keptValues);
        return t;
    }

    /** Reads what {@link #tensors} wrote under {@code prefix} (onto the host). */
    public static PackedLinear read(io.lowbit.model.Safetensors st, String prefix, String name, int bits) {
        try (Scope s = Scope.open()) {
            Tensor[] t = new Tensor[7];
            String[] parts = {"qweight", "scales", "zeros", "g_idx", "kept_row_start", "kept_columns", "kept_values"};
            for (int i = 0; i < t.length; i++)
                t[i] = s.keep(st.load(prefix + "." + parts[i], Device.CPU)).escape();
            return new PackedLinear(name, bits, t[1].size(0), t[3].size(0), t[0], t[1], t[2], t[3], t[4], t[5], t[6]);
        }
    }

    @Override
    public void close() {
        for (Tensor t : tensors("").values()) t.close();
    }
}
