package io.lowbit.bench;

import io.lowbit.quant.Claq;
import io.lowbit.torch.Device;
import io.lowbit.torch.Scope;
import io.lowbit.torch.Tensor;
import io.lowbit.torch.Torch;
import java.util.Locale;

/**
 * CLAQ on one random layer ({@code ./lowbit run io.lowbit.bench.ClaqLayer [rows cols]}, default
 * 288 × 768): W ~ N(0, 0.02²), H from 2048 Gaussian tokens, seed 0; for each setting the seconds of
 * one Claq.quantize (its loss is read back, so device work is inside the clock), the layer loss and
 * both bit counts.
 */
public final class ClaqLayer {
    private ClaqLayer() {}

    public static void main(String[] args) {
        long rows = args.length > 0 ? Long.parseLong(args[0]) : 288;
        long cols = args.length > 1 ? Long.parseLong(args[1]) : 768;
        Claq.Options base = Claq.Options.defaults();
        Object[][] settings = {
            {"2 bits, Lloyd", base.bits(2)}, {"2 bits, exact", base.bits(2).exact()},
            {"3 bits, Lloyd", base.bits(3)}, {"3 bits, exact", base.bits(3).exact()},
            {"4 bits, Lloyd", base.bits(4)}, {"4 bits, exact", base.bits(4).exact()},
            {"β 2.1", base.adaptive(2.1)}, {"2 bits + reserve", base.bits(2).reserve()},
            {"β 2.05 + reserve", base.adaptive(2.05).reserve()},
        };
        try (Scope s = Scope.open()) {
            Torch.manualSeed(0);
            Device d = Device.defaultDevice();
            Tensor w = Torch.randn(rows, cols).mul(0.02), x = Torch.randn(2048, cols);
            Tensor h = x.t().mm(x).mul(2.0 / 2048);
            Claq.quantize(w, h, base.bits(2), null).close(); // warm-up
            System.out.printf(Locale.ROOT, "CLAQ on one %d × %d layer, %s%n", rows, cols, d);
            System.out.println("| setting | seconds | loss | bits (papers) | bits (storage) |");
            System.out.println("|---|---|---|---|---|");
            for (Object[] row : settings) {
                long t0 = System.nanoTime();
                try (Claq.Result r = Claq.quantize(w, h, (Claq.Options) row[1], null)) {
                    double seconds = (System.nanoTime() - t0) / 1e9;
                    System.out.printf(
                            Locale.ROOT,
                            "| %s | %.2f | %.4f | %.4f | %.4f |%n",
                            row[0],
                            seconds,
                            r.loss(),
                            r.paperBits(),
                            r.storageBits());
                }
            }
        }
    }
}
