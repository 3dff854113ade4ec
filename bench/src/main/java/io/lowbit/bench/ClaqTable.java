package io.lowbit.bench;

import io.lowbit.data.Calibration;
import io.lowbit.model.Model;
import io.lowbit.model.Progress;
import io.lowbit.quant.Claq;
import io.lowbit.quant.Gptq;
import io.lowbit.quant.Grid;
import io.lowbit.quant.Method;
import io.lowbit.quant.Quantize;
import io.lowbit.quant.QuantizedModel;
import java.util.Locale;

/**
 * CLAQ's acceptance table ({@code ./lowbit run io.lowbit.bench.ClaqTable}): stories260K; GPTQ's
 * acceptance protocol (calibration = the first 128 windows of 512 tokens of tinystories_train_excerpt.txt,
 * damping 1 %, block 128, true-sequential, act-order; perplexity over all 512-token windows of
 * tinystories_val.txt); CLAQ (Wang et al., arXiv 2405.17233) at 4, 3 and 2 bits, adaptive precision
 * 3.1 and 2.1, reservation at 2 bits and adaptive 2.1 with reservation, each beside GPTQ W3 per row
 * with act-order on the same protocol; bits as the papers count them and as storage takes them.
 */
public final class ClaqTable {
    private ClaqTable() {}

    public static void main(String[] args) {
        Claq.Options c = Claq.Options.defaults();
        Object[][] rows = {
            {"GPTQ act-order", 4, Gptq.Options.defaults().actOrder()},
            {"GPTQ act-order", 3, Gptq.Options.defaults().actOrder()},
            {"GPTQ act-order", 2, Gptq.Options.defaults().actOrder()},
            {"CLAQ", 4, c},
            {"CLAQ", 3, c},
            {"CLAQ", 2, c},
            {"CLAQ adaptive 3.1", 3, c.adaptive(3.1)},
            {"CLAQ adaptive 2.1", 2, c.adaptive(2.1)},
            {"CLAQ reserve", 2, c.reserve()},
            {"CLAQ adaptive 2.1 + reserve", 2, c.adaptive(2.1).reserve()},
        };
        try (StoriesAcceptance a = StoriesAcceptance.load()) {
            Model fp = a.fp();
            Calibration cal = a.cal();
            double base = a.perplexity(fp);
            StringBuilder out = new StringBuilder();
            out.append(
                    "| method | b | bits (papers) | bits (storage) | perplexity | seconds |\n|---|---|---|---|---|---|\n");
            out.append(String.format(Locale.ROOT, "| fp32 | 32 | 32 | 32 | %.4f | |%n", base));
            for (Object[] r : rows) {
                int bits = (Integer) r[1];
                try (QuantizedModel q = Quantize.run(fp, Grid.bits(bits), (Method) r[2], cal, null, Progress.NONE)) {
                    String row = String.format(
                            Locale.ROOT,
                            "| %s | %d | %.4f | %.4f | %.4f | %.1f |%n",
                            r[0],
                            bits,
                            q.paperBits(),
                            q.storageBits(),
                            a.perplexity(q.model()),
                            q.seconds());
                    System.err.print(row);
                    out.append(row);
                }
            }
            System.out.println();
            System.out.println(
                    "stories260K, perplexity on tinystories_val.txt (all windows of 512); calibration " + cal);
            System.out.print(out);
        }
    }
}
