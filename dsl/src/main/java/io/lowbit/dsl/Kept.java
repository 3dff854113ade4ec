package io.lowbit.dsl;

import io.lowbit.quant.Mask;
import io.lowbit.torch.DType;
import io.lowbit.torch.Tensor;

/** A mask of kept weights with where they are: a table per layer and matrix type, a chart, heat maps. */
public record Kept(Mask mask, double percent, KeepScope scope, Scores from, Table table) {
    /** The top {@code percent} % of the scores (0.35 keeps 0.35 %), taken over the scope. */
    static Kept of(Scores s, double percent, KeepScope scope) {
        Mask mask = Tacq.keep(s.saliency(), s.rule(), percent, scope);
        return new Kept(
                mask, percent, scope, s, Tacq.keptTable(mask, s.saliency().linears()));
    }

    /** Kept weights per layer and matrix type, as bars. */
    public Chart chart() {
        // the table without its "all" row and "total" column: bars of the parts only
        Table perLayer = Table.of(
                table.title(),
                table.columns().subList(0, table.columns().size() - 1),
                table.rows().subList(0, table.rows().size() - 1).stream()
                        .map(r -> r.subList(0, r.size() - 1))
                        .toList());
        String title = "kept weights per layer (" + Tacq.percent(percent) + ", " + from.rule() + ")";
        return Chart.groupedBars(title, "kept weights (count)", perLayer, 1);
    }

    /** Where one matrix's kept weights are: counts over a grid of at most 48 × 48 blocks. */
    public Chart heatmap(String linear) {
        Tensor t = mask.of(linear);
        if (t == null)
            throw new IllegalArgumentException(
                    "no mask for " + linear + "; linears: " + from.saliency().linears());
        long rows = t.size(0), cols = t.size(1);
        int br = (int) Math.min(48, rows), bc = (int) Math.min(48, cols);
        long[][] counts = new long[br][bc];
        long[] flat = t.to(DType.I64).toLongArray();
        for (long r = 0; r < rows; r++)
            for (long c = 0; c < cols; c++)
                if (flat[(int) (r * cols + c)] != 0) counts[(int) (r * br / rows)][(int) (c * bc / cols)]++;
        return Chart.heatmap(linear + ": kept weights", "input column block", "output row block", counts);
    }

    @Override
    public String toString() {
        return "Kept[" + mask.count() + " weights, " + Tacq.percent(percent) + " " + scope + " by " + from.rule()
                + "]\n" + table;
    }
}
