package io.lowbit.bench;

import static io.lowbit.dsl.Lowbit.*;

import io.lowbit.data.Calibration;
import io.lowbit.dsl.Scores;
import io.lowbit.model.Model;
import io.lowbit.quant.Grid;
import io.lowbit.quant.QuantizedModel;
import io.lowbit.quant.Saliency.Score;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * TaCQ's acceptance table ({@code ./lowbit run io.lowbit.bench.TacqTable}), by this protocol:
 * stories260K; calibration = the first 128 windows of 512 tokens of tinystories_train_excerpt.txt
 * ([BOS] + encode of the whole text); Q_ref = unmasked per-row asymmetric GPTQ with the MSE search;
 * keep 0.35 % globally; masked GPTQ on the same grid; perplexity on all of tinystories_val.txt
 * (GPTQ's protocol, {@link io.lowbit.eval.Perplexity}). RTN and GPTQ use the same MSE grid. Then
 * the saliency ablation at the same budget: only the score changes.
 */
public final class TacqTable {
    private TacqTable() {}

    public static void main(String[] args) {
        double percent = args.length > 0 ? Double.parseDouble(args[0]) : 0.35;
        setProgress(() -> io.lowbit.model.Progress.NONE);
        try (Model m = load("stories260K")) {
            Calibration cal = calibrate(m, tinystoriesTrain(), 128, 512);
            var task = perplexity(tinystories());
            double fp = ppl(m, task);
            System.out.printf(
                    Locale.ROOT,
                    "stories260K, calibration %s, keep %.2f %% globally; perplexity on tinystories-val (all windows)%n%n",
                    cal.name(),
                    percent);
            System.out.println("| method | bits | bits (papers) | bits (storage) | perplexity |");
            System.out.println("|---|---|---|---|---|");
            System.out.printf(Locale.ROOT, "| fp32 | 32 | 32 | 32 | %.4f |%n", fp);
            List<Score> ablation = List.of(
                    Score.WEIGHT,
                    Score.GRADIENT,
                    Score.FISHER,
                    Score.SIGNED_GRADIENT,
                    Score.HESSIAN,
                    Score.MSG,
                    Score.QAL,
                    Score.TACQ);
            StringBuilder ab = new StringBuilder();
            for (int bits : new int[] {3, 2}) {
                Grid grid = bits(bits).mse();
                for (Row r : methods(m, cal, task, bits, percent))
                    System.out.printf(
                            Locale.ROOT,
                            "| %s | %d | %.4f | %.4f | %.4f |%n",
                            r.method(),
                            r.bits(),
                            r.paperBits(),
                            r.storageBits(),
                            r.perplexity());
                for (Score rule : ablation) {
                    Scores s = saliency(m, cal, rule, grid);
                    try (QuantizedModel q = quantize(m, grid, GPTQ, cal, keep(s, percent))) {
                        ab.append(String.format(
                                Locale.ROOT, "| %s | %d | %.4f | %.4f |%n", rule, bits, q.paperBits(), ppl(q, task)));
                    }
                }
            }
            System.out.printf(
                    Locale.ROOT,
                    "%nSaliency ablation at %.2f %% (masked GPTQ, same grid and calibration; only the score changes):%n%n",
                    percent);
            System.out.println("| score | bits | bits (papers) | perplexity |");
            System.out.println("|---|---|---|---|");
            System.out.print(ab);
        }
    }

    /** One row of the main table. */
    record Row(String method, int bits, double paperBits, double storageBits, double perplexity) {}

    /**
     * RTN, GPTQ and TaCQ at one bit width on the MSE grid. Plain GPTQ is TaCQ's Q_ref (same grid,
     * calibration and options), so its row reads the Q_ref the saliency keeps instead of running GPTQ
     * a second time; that model stays cached for the ablation and is freed by {@code clearCaches()}.
     */
    static List<Row> methods(Model m, Calibration cal, io.lowbit.dsl.Task task, int bits, double percent) {
        Grid grid = bits(bits).mse();
        List<Row> rows = new ArrayList<>();
        try (QuantizedModel rtn = quantize(m, grid, RTN)) {
            rows.add(row("RTN", bits, rtn, ppl(rtn, task)));
        }
        Scores s = saliency(m, cal, TACQ, grid);
        QuantizedModel gptq = s.saliency().reference();
        rows.add(row("GPTQ", bits, gptq, ppl(gptq, task)));
        try (QuantizedModel t =
                quantize(m, grid, GPTQ, cal, keep(s, percent))) { // what tacq(m, grid, cal, percent) does
            rows.add(row("TaCQ", bits, t, ppl(t, task)));
        }
        return rows;
    }

    private static double ppl(Model m, io.lowbit.dsl.Task task) {
        return ((Number) eval(m, task).rows().get(0).get(3)).doubleValue();
    }

    private static double ppl(QuantizedModel q, io.lowbit.dsl.Task task) {
        return ((Number) eval(q, task).rows().get(0).get(3)).doubleValue();
    }

    private static Row row(String method, int bits, QuantizedModel q, double ppl) {
        return new Row(method, bits, q.paperBits(), q.storageBits(), ppl);
    }
}
