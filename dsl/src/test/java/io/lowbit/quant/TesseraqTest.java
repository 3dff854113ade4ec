package io.lowbit.quant;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.lowbit.TestData;
import io.lowbit.data.Calibration;
import io.lowbit.model.Linear;
import io.lowbit.model.Model;
import io.lowbit.model.Models;
import io.lowbit.model.Progress;
import io.lowbit.torch.DType;
import io.lowbit.torch.Scope;
import io.lowbit.torch.Tensor;
import io.lowbit.torch.Torch;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** TesseraQ's parts against the facts they must hold, on the real stories260K. */
class TesseraqTest {
    static Model fp;
    static Calibration small;

    @BeforeAll
    static void setUp() throws IOException {
        fp = Models.load(TestData.stories260K().toString());
        String train = Files.readString(TestData.shipped("text/tinystories_train_excerpt.txt"));
        small = Calibration.firstWindows("tinystories-train", fp.tokenizer(), train, 6, 128);
    }

    @AfterAll
    static void tearDown() {
        fp.close();
    }

    static float[] values(Tensor t) {
        try (Scope s = Scope.open()) {
            return t.to(DType.F32).contiguous().toFloatArray();
        }
    }

    @Test
    void theSoftParametrisationReproducesTheWeightAtInitialisation() {
        for (Grid grid : List.of(Grid.bits(2).groups(32), Grid.bits(3))) {
            for (Linear l : List.of(
                    fp.linear("layers.1.attn.q"),
                    fp.linear("layers.1.mlp.down"))) { // down: 172 columns, a ragged last group
                try (Scope s = Scope.open();
                        SoftRounding soft = new SoftRounding(l, grid)) {
                    float[] w = values(l.weight()), hat = values(soft.weight(DType.F32));
                    float[] scale = values(soft.groups.ungrouped(soft.p.scale().expand(soft.wg.shape())));
                    float[] level = values(
                            soft.groups.ungrouped(soft.wg.div(soft.p.scale()).add(soft.p.zero())));
                    int inside = 0;
                    for (int j = 0; j < w.length; j++) {
                        if (level[j] < 0 || level[j] > grid.maxq())
                            continue; // the clamp to [0, maxq] bites: not reproducible by design
                        inside++;
                        assertEquals(w[j], hat[j], 1e-4 * scale[j], l.name() + " " + grid + " entry " + j);
                    }
                    assertTrue(inside > 0.8 * w.length, inside + " of " + w.length + " weights inside the grid");
                }
            }
        }
    }

    @Test
    void hardeningHardensExactlyTheStatedFractionAndOnlyMore() {
        Linear l = fp.linear("layers.2.mlp.up");
        try (Scope s = Scope.open();
                SoftRounding soft = new SoftRounding(l, Grid.bits(2).groups(32))) {
            long n = l.weight().numel();
            double previous = 0;
            for (double tau : Tesseraq.THRESHOLDS) {
                double hard = soft.harden(tau);
                assertEquals(1 - tau, hard, 1.5 / n + 1e-9, "τ = " + tau);
                assertTrue(hard >= previous, "hard roundings stay hard");
                previous = hard;
            }
            // a hardened rounding is the nearer one: h(ν) = 1 exactly where the fraction was above one half
            float[] nu = values(soft.groups.ungrouped(soft.nu)),
                    frac =
                            values(soft.groups.ungrouped(
                                    soft.wg.div(soft.p.scale()).sub(soft.base)));
            for (int j = 0; j < nu.length; j++)
                if (Float.isInfinite(nu[j])) assertEquals(frac[j] > 0.5, nu[j] > 0, "entry " + j + " frac " + frac[j]);
        }
    }

    @Test
    void theFusedSoftWeightAndItsGradientsEqualTheAtenFormulas() {
        Linear l = fp.linear("layers.3.mlp.down"); // 172 columns: padded groups of 32
        for (Grid grid : List.of(Grid.bits(2).groups(32), Grid.bits(3))) {
            try (Scope s = Scope.open();
                    SoftRounding fused = new SoftRounding(l, grid, true);
                    SoftRounding plain = new SoftRounding(l, grid, false)) {
                Torch.manualSeed(3);
                Tensor nu = Torch.randn(fused.nu.shape()).mul(2.0),
                        v = Torch.randn(fused.v.shape()).mul(0.3);
                nu = nu.maskedFill(Torch.rand(fused.nu.shape()).lt(0.1), Double.POSITIVE_INFINITY)
                        .maskedFill(
                                Torch.rand(fused.nu.shape()).lt(0.1), Double.NEGATIVE_INFINITY); // hardened roundings
                Tensor upstream = Torch.randn(l.weight().shape());
                float[][] out = new float[2][], gnu = new float[2][], gv = new float[2][];
                int k = 0;
                for (SoftRounding sf : List.of(fused, plain)) {
                    try (var g = Torch.noGrad()) {
                        sf.nu.copyFrom(nu.to(sf.nu.device()));
                        sf.v.copyFrom(v.to(sf.v.device()));
                    }
                    try (var g = Torch.enableGrad()) {
                        Tensor w = sf.weight(DType.F32);
                        out[k] = values(w);
                        w.mul(upstream.to(w.device())).sum().backward();
                    }
                    gnu[k] = values(sf.nu.grad());
                    gv[k] = values(sf.v.grad());
                    sf.nu.zeroGrad();
                    sf.v.zeroGrad();
                    k++;
                }
                for (int i = 0; i < out[0].length; i++)
                    assertEquals(out[1][i], out[0][i], 1e-6 * (1 + Math.abs(out[1][i])), "Ŵ " + i);
                int nonzero = 0;
                for (int i = 0; i < gnu[0].length; i++) {
                    assertEquals(gnu[1][i], gnu[0][i], 1e-5 * (1 + Math.abs(gnu[1][i])), grid + " ∂ν " + i);
                    if (gnu[1][i] != 0) nonzero++;
                }
                assertTrue(nonzero > gnu[0].length / 2, "gradients reach most soft roundings: " + nonzero);
                for (int i = 0; i < gv[0].length; i++)
                    assertEquals(gv[1][i], gv[0][i], 1e-4 * (1 + Math.abs(gv[1][i])), grid + " ∂v " + i);
            }
        }
    }

    @Test
    void theFusedAdamStepIsPytorchsAdam() {
        try (Scope s = Scope.open()) {
            Torch.manualSeed(5);
            for (double decay : new double[] {0, 1e-4}) {
                Tensor p = Torch.randn(1000),
                        g = Torch.randn(1000),
                        m = Torch.randn(1000).mul(0.1),
                        v = Torch.rand(1000).mul(0.01);
                Tensor pf = p.clone(), mf = m.clone(), vf = v.clone();
                int t = 3;
                double c1 = 1 - Math.pow(0.9, t), c2 = 1 - Math.pow(0.999, t), lr = 1e-3;
                Torch.adamStep(pf, g, mf, vf, lr, 0.9, 0.999, 1e-8, decay, c1, c2);
                Tensor grad = decay > 0 ? g.add(p.mul(decay)) : g; // torch.optim.Adam's update, written out
                Tensor m2 = m.mul(0.9).add(grad.mul(0.1)),
                        v2 = v.mul(0.999).add(grad.square().mul(0.001));
                Tensor p2 = p.sub(m2.div(v2.sqrt().div(Math.sqrt(c2)).add(1e-8)).mul(lr / c1));
                assertArrayEquals(values(p2), values(pf), 1e-6f);
                assertArrayEquals(values(m2), values(mf), 1e-6f);
                assertArrayEquals(values(v2), values(vf), 1e-6f);
            }
            Tensor hard = Torch.tensor(new float[] {Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY}, 2),
                    zero = Torch.zeros(2);
            Torch.adamStep(hard, zero, Torch.zeros(2), Torch.zeros(2), 1e-3, 0.9, 0.999, 1e-8, 0, 0.1, 0.001);
            assertArrayEquals(
                    new float[] {Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY},
                    values(hard),
                    "hard roundings stay hard");
        }
    }

    @Test
    void theQuantileIsNumpysLinearInterpolation() {
        try (Scope s = Scope.open()) {
            Tensor x = Torch.tensor(new float[] {5, 1, 4, 2, 3}, 5);
            assertEquals(1.0, SoftRounding.quantile(x, 0), 1e-12);
            assertEquals(3.0, SoftRounding.quantile(x, 0.5), 1e-12);
            assertEquals(4.6, SoftRounding.quantile(x, 0.9), 1e-6); // numpy.quantile([1..5], 0.9) = 4.6
            assertEquals(5.0, SoftRounding.quantile(x, 1), 1e-12);
        }
    }

    @Test
    void finalisedCodesReproduceTheTrainedBlocksOutput() {
        try (Model q = fp.copy();
                Scope s = Scope.open()) {
            Tensor x = fp.embed(fp.tokens(small.sequences().get(0)));
            Model.Block b = q.blocks().get(1);
            List<SoftRounding> soft = new java.util.ArrayList<>();
            Torch.manualSeed(7);
            for (Linear l : b.linears()) {
                SoftRounding sf = new SoftRounding(l, Grid.bits(2).groups(32));
                try (var g = Torch.noGrad()) { // as if trained: roundings moved, scales moved, then all hard (§B.6)
                    sf.nu.copyFrom(Torch.randn(sf.nu.shape()).mul(3.0));
                    sf.v.copyFrom(Torch.randn(sf.v.shape()).mul(0.5));
                    sf.nu.copyFrom(sf.nu.sign().mul(100.0));
                }
                soft.add(sf);
            }
            for (SoftRounding sf : soft)
                sf.linear.setWeight(sf.weight(DType.F32).detach().escape());
            float[] trained = values(q.runBlock(1, x));
            for (SoftRounding sf : soft) {
                MinMaxGroups g = sf.groups;
                Tensor codes = g.ungrouped(sf.finalCodes());
                float[] c = values(codes);
                for (float v : c) assertTrue(v >= 0 && v <= 3 && v == Math.rint(v), "an integer 2-bit code: " + v);
                sf.linear.setWeight(g.dense(
                                codes,
                                sf.finalScales().reshape(g.rows, g.groupsPerRow),
                                sf.p.zero().reshape(g.rows, g.groupsPerRow),
                                DType.F32)
                        .escape());
            }
            float[] fromCodes = values(q.runBlock(1, x));
            for (int j = 0; j < trained.length; j++)
                assertEquals(trained[j], fromCodes[j], 1e-4 * (1 + Math.abs(trained[j])), "output " + j);
            for (SoftRounding sf : soft) sf.close();
        }
    }

    @Test
    void awqFoldingLeavesTheFullPrecisionModelsOutputUnchanged() {
        try (Model m = fp.copy();
                Scope s = Scope.open()) {
            Tensor tokens = fp.tokens(small.sequences().get(1));
            float[] before = values(m.forward(tokens, null));
            List<Tensor> xs = BlockLoop.embedded(m, small, m.device());
            float[] norm0 = values(m.blocks().get(0).attnNorm()),
                    down0 = values(m.blocks().get(0).down().weight());
            try {
                for (int i = 0; i < m.blocks().size(); i++) {
                    Awq.scale(m, i, xs, Grid.bits(2).groups(32));
                    List<Tensor> next = new java.util.ArrayList<>();
                    for (Tensor x : xs) next.add(m.runBlock(i, x).escape());
                    for (Tensor x : xs) x.close();
                    xs = next;
                }
            } finally {
                for (Tensor x : xs) x.close();
            }
            assertNotEquals(
                    java.util.Arrays.toString(norm0),
                    java.util.Arrays.toString(values(m.blocks().get(0).attnNorm())),
                    "scales were folded");
            assertNotEquals(
                    java.util.Arrays.toString(down0),
                    java.util.Arrays.toString(values(m.blocks().get(0).down().weight())));
            float[] after = values(m.forward(tokens, null));
            for (int j = 0; j < before.length; j++)
                assertEquals(before[j], after[j], 1e-3 * (1 + Math.abs(before[j])), "logit " + j);
            assertEquals(
                    fp.fingerprint(),
                    Models.load(TestData.stories260K().toString()).fingerprint(),
                    "the original is untouched");
        }
    }

    @Test
    void aRunKilledMidwayResumesFromItsCheckpointsToTheSameCodes(@TempDir Path dir) {
        Tesseraq.Options o = Tesseraq.Options.defaults()
                .noCheckpoints()
                .thresholds(List.of(0.5, 0.2))
                .iterations(3)
                .batch(2);
        Grid grid = Grid.bits(2).groups(32);
        try (QuantizedModel whole = Tesseraq.run(fp, grid, small, o, Progress.NONE, fp.device())) {
            Path folder = dir.resolve("ck");
            RuntimeException kill = new RuntimeException("killed");
            RuntimeException thrown = assertThrows(
                    RuntimeException.class,
                    () -> Tesseraq.run(
                            fp,
                            grid,
                            small,
                            o.checkpoints(folder),
                            (what, done, total) -> {
                                if (what.contains("block 4/")) throw kill;
                            },
                            fp.device()));
            assertEquals(kill, thrown);
            try (var files = Files.list(folder)) {
                assertEquals(
                        3,
                        files.filter(f -> f.getFileName().toString().startsWith("block-"))
                                .count(),
                        "blocks 0-2 were saved");
            } catch (IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
            List<String> seen = new java.util.ArrayList<>();
            try (QuantizedModel resumed = Tesseraq.run(
                    fp, grid, small, o.checkpoints(folder), (what, done, total) -> seen.add(what), fp.device())) {
                assertTrue(seen.stream().anyMatch(w -> w.contains("block 3/5 resumed")), String.valueOf(seen));
                assertTrue(
                        seen.stream().noneMatch(w -> w.contains("block 3/5 · round")),
                        "finished blocks are not trained again: " + seen);
                assertTrue(seen.stream().anyMatch(w -> w.contains("block 4/5 · round")), "the rest is: " + seen);
                for (Linear l : fp.linears()) {
                    QuantizedLinear a = whole.linear(l.name()), b = resumed.linear(l.name());
                    assertArrayEquals(values(a.codes()), values(b.codes()), l.name());
                    assertArrayEquals(values(a.scales()), values(b.scales()), l.name());
                    assertArrayEquals(values(a.zeros()), values(b.zeros()), l.name());
                    assertArrayEquals(
                            values(whole.model().linear(l.name()).weight()),
                            values(resumed.model().linear(l.name()).weight()),
                            l.name());
                }
                assertEquals(5, resumed.reconstruction().size());
                assertTrue(resumed.reconstruction().get(0).resumed()
                        && !resumed.reconstruction().get(4).resumed());
            }
            // the folder belongs to that run: another schedule is refused with a reason
            IllegalArgumentException other = assertThrows(
                    IllegalArgumentException.class,
                    () -> Tesseraq.run(
                            fp, grid, small, o.iterations(4).checkpoints(folder), Progress.NONE, fp.device()));
            assertTrue(other.getMessage().contains("another TesseraQ run"), other.getMessage());
        }
    }

    @Test
    void trainingLowersEachBlocksLossBelowRoundToNearest() {
        Tesseraq.Options o = Tesseraq.Options.defaults()
                .noCheckpoints()
                .thresholds(List.of(0.5, 0.2, 0.05))
                .iterations(20)
                .batch(2);
        try (QuantizedModel q = Tesseraq.run(fp, Grid.bits(2).groups(32), small, o, Progress.NONE, fp.device())) {
            assertEquals("TESSERAQ", q.method().name());
            for (Tesseraq.BlockLoss b : q.reconstruction()) {
                assertTrue(b.finalLoss() < b.nearestLoss(), b.toString());
                assertEquals(3, b.roundLoss().size());
            }
            for (Linear l : q.model().linears()) { // the dense weight is scale·(code − zero), codes within 2 bits
                QuantizedLinear r = q.linear(l.name());
                MinMaxGroups g = new MinMaxGroups(
                        l.outFeatures(), l.inFeatures(), Grid.bits(2).groups(32));
                try (Scope s = Scope.open()) {
                    assertTrue(r.codes().to(DType.F32).max().item() <= 3);
                    assertArrayEquals(
                            values(l.weight()),
                            values(g.dense(r.codes().to(DType.F32), r.scales(), r.zeros(), DType.F32)),
                            l.name());
                }
            }
        }
    }

    @Test
    void nonFiniteWeightsStopTheRunWithTheBlockNamed() {
        try (Model broken = fp.copy();
                Scope s = Scope.open()) {
            Linear up = broken.linear("layers.2.mlp.up");
            up.setWeight(
                    up.weight().maskedFill(up.weight().gt(0.05), Double.NaN).escape());
            Tesseraq.Options o = Tesseraq.Options.defaults()
                    .noCheckpoints()
                    .thresholds(List.of(0.5))
                    .iterations(2)
                    .batch(2)
                    .init(Tesseraq.Init.MINMAX);
            IllegalStateException e = assertThrows(
                    IllegalStateException.class,
                    () -> Tesseraq.run(broken, Grid.bits(2).groups(32), small, o, Progress.NONE, fp.device()));
            assertTrue(e.getMessage().contains("block 2") && e.getMessage().contains("non-finite"), e.getMessage());
        }
    }

    @Test
    void badOptionsAndCalibrationAreRefusedWithTheReason() {
        assertThrows(
                IllegalArgumentException.class,
                () -> Tesseraq.Options.defaults().thresholds(List.of(0.5, 0.8)));
        assertThrows(
                IllegalArgumentException.class,
                () -> Tesseraq.Options.defaults().thresholds(List.of(1.5)));
        assertThrows(
                IllegalArgumentException.class,
                () -> Tesseraq.Options.defaults().iterations(0));
        IllegalArgumentException sym = assertThrows(
                IllegalArgumentException.class,
                () -> Tesseraq.run(
                        fp,
                        Grid.bits(2).symmetric(),
                        small,
                        Tesseraq.Options.defaults().noCheckpoints(),
                        Progress.NONE,
                        fp.device()));
        assertTrue(sym.getMessage().contains("asymmetric"), sym.getMessage());
        Calibration mixed = Calibration.examples(
                "mixed",
                List.of(
                        small.sequences().get(0),
                        java.util.Arrays.copyOf(small.sequences().get(1), 50)));
        IllegalArgumentException e = assertThrows(
                IllegalArgumentException.class,
                () -> Tesseraq.run(
                        fp,
                        Grid.bits(2),
                        mixed,
                        Tesseraq.Options.defaults().noCheckpoints().batch(2),
                        Progress.NONE,
                        fp.device()));
        assertTrue(e.getMessage().contains("one length"), e.getMessage());
    }
}
