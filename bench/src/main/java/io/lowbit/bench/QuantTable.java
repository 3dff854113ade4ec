package io.lowbit.bench;

import io.lowbit.data.Calibration;
import io.lowbit.model.Model;
import io.lowbit.model.Progress;
import io.lowbit.quant.Gptq;
import io.lowbit.quant.Grid;
import io.lowbit.quant.Method;
import io.lowbit.quant.Quantize;
import io.lowbit.quant.QuantizedModel;
import io.lowbit.quant.Rtn;
import java.util.Locale;

/**
 * The quantization core's acceptance table ({@code ./lowbit run io.lowbit.bench.QuantTable}):
 * stories260K; calibration = the first 128 windows of 512 tokens of tinystories_train_excerpt.txt
 * tokenized whole as [BOS] + encode(text); asymmetric min/max grid; damping 1 %; block 128; no
 * act-order; true-sequential; perplexity on tinystories_val.txt by GPTQ's protocol
 * ({@link io.lowbit.eval.Perplexity}).
 */
public final class QuantTable {
    private QuantTable() {}

    public static void main(String[] args) {
        try (StoriesAcceptance a = StoriesAcceptance.load()) {
            Model fp = a.fp();
            Calibration cal = a.cal();
            double base = a.perplexity(fp);
            StringBuilder out = new StringBuilder();
            out.append(String.format(
                    Locale.ROOT,
                    "| grid | RTN | GPTQ | GPTQ seconds |%n|---|---|---|---|%n| fp32 | %.4f | %.4f | |%n",
                    base,
                    base));
            for (int group : new int[] {-1, 32})
                for (int bits : new int[] {4, 3, 2}) {
                    Grid g = Grid.bits(bits).groups(group);
                    double[] ppl = new double[2];
                    double secs = 0;
                    int k = 0;
                    for (Method m : new Method[] {Rtn.Options.defaults(), Gptq.Options.defaults()}) {
                        Calibration c = m instanceof Gptq.Options ? cal : null;
                        try (QuantizedModel q = Quantize.run(fp, g, m, c, null, Progress.NONE)) {
                            ppl[k++] = a.perplexity(q.model());
                            if (m instanceof Gptq.Options) secs = q.seconds();
                        }
                    }
                    String row = String.format(Locale.ROOT, "| %s | %.4f | %.4f | %.1f |%n", g, ppl[0], ppl[1], secs);
                    System.err.print(row);
                    out.append(row);
                }
            System.out.println();
            System.out.println(
                    "stories260K, perplexity on tinystories_val.txt (767 windows of 512); calibration " + cal);
            System.out.print(out);
        }
    }
}
