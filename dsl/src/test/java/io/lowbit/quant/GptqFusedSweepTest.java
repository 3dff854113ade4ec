package io.lowbit.quant;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.lowbit.torch.DType;
import io.lowbit.torch.Device;
import io.lowbit.torch.Scope;
import io.lowbit.torch.Tensor;
import io.lowbit.torch.Torch;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The fused in-block sweep (one bridge call per block: a CUDA kernel on a GPU, a C++ loop on a CPU)
 * against the per-column tensor ops that mirror the paper, on the default device.
 */
class GptqFusedSweepTest {
    @Test
    void theFusedSweepGivesTheSameQuantizationAsThePerColumnOps() {
        Device d = Device.defaultDevice();
        try (Scope s = Scope.open()) {
            Torch.manualSeed(11);
            long r = 96, c = 300; // not a multiple of the block size or the group size
            Tensor w = Torch.randn(DType.F32, d, r, c);
            Tensor x = Torch.randn(DType.F32, d, 512, c)
                    .mul(Torch.rand(DType.F32, d, 1, c).mul(3.0)); // uneven channel scales
            Tensor h = x.t().mm(x).mul(2.0 / 512);
            Tensor keep = Torch.rand(DType.F32, d, r, c).lt(0.02);
            for (Grid g : List.of(
                    Grid.bits(3),
                    Grid.bits(2).groups(32),
                    Grid.bits(4).groups(128).symmetric(),
                    Grid.bits(3).mse()))
                for (Tensor k : new Tensor[] {null, keep}) {
                    Gptq.Options o = Gptq.Options.defaults();
                    Gptq.Result loop = Gptq.quantize(w, h, g, k, o.fusedSweep(false));
                    Gptq.Result fused = Gptq.quantize(w, h, g, k, o.fusedSweep(true));
                    String what = g + (k == null ? "" : " with kept weights");
                    float[] a = loop.weight().toFloatArray(), b = fused.weight().toFloatArray();
                    float[] ca = loop.codes().toFloatArray(), cb = fused.codes().toFloatArray();
                    int sameCodes = 0;
                    double worst = 0;
                    for (int i = 0; i < a.length; i++) {
                        if (ca[i] == cb[i]) sameCodes++;
                        worst = Math.max(worst, Math.abs(a[i] - b[i]));
                    }
                    // the paths round alike; a last-bit difference (CUDA divides by a scalar as a reciprocal
                    // product) may at most flip a rare tie
                    assertTrue(sameCodes >= a.length * 0.999, what + ": " + (a.length - sameCodes) + " codes differ");
                    if (!d.isCuda()) { // the CPU loop does every operation in the same order: the same bits
                        assertEquals(a.length, sameCodes, what);
                        assertEquals(0.0, worst, what);
                    }
                    assertEquals(loop.loss(), fused.loss(), 1e-4 * loop.loss(), what);
                    assertEquals(
                            java.util.Arrays.toString(loop.groupOfColumn()),
                            java.util.Arrays.toString(fused.groupOfColumn()));
                    System.out.printf(
                            java.util.Locale.ROOT,
                            "%s: %d of %d codes equal, max |Δw| %.3g, loss %.6g vs %.6g%n",
                            what,
                            sameCodes,
                            a.length,
                            worst,
                            loop.loss(),
                            fused.loss());
                    for (Gptq.Result res : List.of(loop, fused)) {
                        res.weight().close();
                        res.codes().close();
                        res.scales().close();
                        res.zeros().close();
                    }
                }
        }
    }
}
