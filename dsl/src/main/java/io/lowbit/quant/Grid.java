package io.lowbit.quant;

/**
 * A uniform quantization grid: {@code bits} (2–8), asymmetric (a zero point) or symmetric, one range
 * per output row ({@code groupSize} −1) or per group of {@code groupSize} input columns, the range
 * from min/max with 0 always inside (GPTQ's rule) or chosen by the MSE clipping search.
 *
 * <pre>{@code Grid.bits(3)   Grid.bits(4).groups(128)   Grid.bits(2).mse()   Grid.bits(4).symmetric()}</pre>
 */
public record Grid(
        int bits, boolean sym, int groupSize, boolean mseSearch, int mseGrid, double maxShrink, double norm) {
    public Grid {
        if (bits < 2 || bits > 8) throw new IllegalArgumentException("bits must be 2..8, not " + bits);
        if (groupSize == 0 || groupSize < -1)
            throw new IllegalArgumentException("groupSize must be -1 (per row) or positive, not " + groupSize);
        if (mseGrid < 1 || maxShrink <= 0 || maxShrink >= 1 || norm <= 0)
            throw new IllegalArgumentException("MSE search needs grid >= 1, 0 < maxShrink < 1, norm > 0");
    }

    /** Per row, asymmetric, min/max: the reference's defaults. */
    public static Grid bits(int bits) {
        return new Grid(bits, false, -1, false, 100, 0.8, 2.4);
    }

    public Grid groups(int size) {
        return new Grid(bits, sym, size, mseSearch, mseGrid, maxShrink, norm);
    }

    public Grid perRow() {
        return groups(-1);
    }

    public Grid symmetric() {
        return new Grid(bits, true, groupSize, mseSearch, mseGrid, maxShrink, norm);
    }

    /** The MSE clipping search with the reference's defaults (grid 100, maxshrink 0.8, norm 2.4). */
    public Grid mse() {
        return new Grid(bits, sym, groupSize, true, mseGrid, maxShrink, norm);
    }

    public Grid mse(int grid, double maxShrink, double norm) {
        return new Grid(bits, sym, groupSize, true, grid, maxShrink, norm);
    }

    /** The largest code, 2^bits − 1. */
    public int maxq() {
        return (1 << bits) - 1;
    }

    @Override
    public String toString() {
        return "W" + bits + (groupSize > 0 ? " g" + groupSize : " per-row") + (sym ? " sym" : "")
                + (mseSearch ? " mse" : "");
    }
}
