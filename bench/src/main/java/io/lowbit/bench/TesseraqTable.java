package io.lowbit.bench;

import io.lowbit.data.Calibration;
import io.lowbit.model.Model;
import io.lowbit.model.Progress;
import io.lowbit.quant.Awq;
import io.lowbit.quant.Gptq;
import io.lowbit.quant.Grid;
import io.lowbit.quant.Method;
import io.lowbit.quant.Quantize;
import io.lowbit.quant.QuantizedModel;
import io.lowbit.quant.Rtn;
import io.lowbit.quant.Tesseraq;
import io.lowbit.torch.Device;
import java.util.Locale;

/**
 * TesseraQ's acceptance table ({@code ./lowbit run io.lowbit.bench.TesseraqTable [rounds iterations]}):
 * stories260K; calibration = the first 128 windows of 512 tokens of tinystories_train_excerpt.txt;
 * perplexity on tinystories_val.txt; RTN and GPTQ on GPTQ's grid, AWQ and TesseraQ on llmc's
 * min-max grid; 2 and 3 bits, per row and group 32. The schedule defaults to 10 thresholds × 50
 * iterations (TesseraQ's configurations, Intelligent-Computing-Lab-Yale/TesseraQ
 * configs/quantization: 20 × 250).
 */
public final class TesseraqTable {
    private TesseraqTable() {}

    public static void main(String[] args) {
        int rounds = args.length > 0 ? Integer.parseInt(args[0]) : 10;
        int iterations = args.length > 1 ? Integer.parseInt(args[1]) : 50;
        Tesseraq.Options to = Tesseraq.Options.defaults()
                .noCheckpoints()
                .thresholds(rounds == 10 ? Tesseraq.THRESHOLDS_10 : Tesseraq.THRESHOLDS)
                .iterations(iterations);
        try (StoriesAcceptance a = StoriesAcceptance.load()) {
            Model fp = a.fp();
            Calibration cal = a.cal();
            double base = a.perplexity(fp);
            StringBuilder out = new StringBuilder();
            out.append(String.format(
                    Locale.ROOT,
                    "| grid | RTN | AWQ | GPTQ | TesseraQ | TesseraQ seconds |%n|---|---|---|---|---|---|%n"
                            + "| fp32 | %.4f | %.4f | %.4f | %.4f | |%n",
                    base,
                    base,
                    base,
                    base));
            for (int bits : new int[] {3, 2})
                for (int group : new int[] {-1, 32}) {
                    Grid g = Grid.bits(bits).groups(group);
                    double[] ppl = new double[4];
                    double secs = 0;
                    Method[] methods = {Rtn.Options.defaults(), Awq.Options.defaults(), Gptq.Options.defaults(), to};
                    for (int k = 0; k < methods.length; k++) {
                        Method m = methods[k];
                        Calibration c = m instanceof Rtn.Options ? null : cal;
                        try (QuantizedModel q = m instanceof Tesseraq.Options t
                                ? Tesseraq.run(fp, g, cal, t, Progress.NONE, fp.device())
                                : Quantize.run(fp, g, m, c, null, Progress.NONE, Device.defaultDevice())) {
                            ppl[k] = a.perplexity(q.model());
                            if (m instanceof Tesseraq.Options) secs = q.seconds();
                        }
                    }
                    String row = String.format(
                            Locale.ROOT,
                            "| %s | %.4f | %.4f | %.4f | %.4f | %.1f |%n",
                            g,
                            ppl[0],
                            ppl[1],
                            ppl[2],
                            ppl[3],
                            secs);
                    System.err.print(row);
                    out.append(row);
                }
            System.out.println();
            System.out.println(
                    "stories260K, perplexity on tinystories_val.txt; calibration " + cal + "; TesseraQ " + to);
            System.out.print(out);
        }
    }
}
