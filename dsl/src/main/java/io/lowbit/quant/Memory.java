package io.lowbit.quant;

import java.util.Locale;

/**
 * Bytes a quantized model really takes, by part: packed codes, scales (with zeros and the
 * column-to-group index), outliers (kept weights as a sparse matrix), and the rest of the model left
 * dense (embeddings, norms, head). The bytes are the stored tensors' own, so the bits per weight
 * follow from them rather than from a formula beside them.
 */
public record Memory(long codes, long scales, long outliers, long other, long weights) {
    /** The quantized linears' bytes: codes, scales and outliers. */
    public long quantized() {
        return codes + scales + outliers;
    }

    public long total() {
        return quantized() + other;
    }

    /** Bits per quantized weight, everything of the linears counted. */
    public double bitsPerWeight() {
        return 8.0 * quantized() / weights;
    }

    static String size(long bytes) {
        if (bytes < 1024) return bytes + " B";
        String[] units = {"KiB", "MiB", "GiB", "TiB"};
        double v = bytes;
        int u = -1;
        while (v >= 1024 && u < units.length - 1) {
            v /= 1024;
            u++;
        }
        return String.format(Locale.ROOT, "%.1f %s", v, units[u]);
    }

    @Override
    public String toString() {
        return String.format(
                Locale.ROOT,
                "codes %s, scales %s, outliers %s, dense rest %s: %s in all, %.3f bits per weight",
                size(codes),
                size(scales),
                size(outliers),
                size(other),
                size(total()),
                bitsPerWeight());
    }
}
