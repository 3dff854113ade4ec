package io.lowbit.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.lowbit.torch.DType;
import io.lowbit.torch.Device;
import io.lowbit.torch.Scope;
import io.lowbit.torch.Tensor;
import io.lowbit.torch.Torch;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The forward pass, its gradients, padding and the KV cache, on small random float64 models. */
class ModelForwardTest {
    static Model llama, qwen;

    @BeforeAll
    static void models() {
        llama = RandomModel.create("tiny", Device.defaultDevice(), DType.F64, 1);
        qwen = RandomModel.create("tiny-qwen2", Device.defaultDevice(), DType.F64, 2);
    }

    @AfterAll
    static void free() {
        llama.close();
        qwen.close();
    }

    private static double[] logits(Model m, int[] ids) {
        try (Scope s = Scope.open();
                var g = Torch.noGrad()) {
            return m.forward(m.tokens(ids), null).toDoubleArray();
        }
    }

    @Test
    void linearsHaveStableNamesInTrueSequentialOrder() {
        List<String> names = llama.linears().stream().map(Linear::name).toList();
        assertEquals(7 * 2, names.size());
        assertEquals(
                List.of(
                        "layers.0.attn.q",
                        "layers.0.attn.k",
                        "layers.0.attn.v",
                        "layers.0.attn.o",
                        "layers.0.mlp.gate",
                        "layers.0.mlp.up",
                        "layers.0.mlp.down"),
                names.subList(0, 7));
        assertArrayEquals(
                new long[] {32, 64}, llama.linear("layers.1.attn.k").weight().shape(), "2 kv heads × 16");
        assertTrue(qwen.linear("layers.0.attn.q").bias() != null
                && qwen.linear("layers.0.attn.o").bias() == null);
    }

    @Test
    void gradientOfTheLossMatchesFiniteDifferences() {
        int[] ids = {1, 17, 300, 5, 42, 99, 7};
        for (Model m : List.of(llama, qwen)) {
            Linear target = m.linear("layers.1.attn.v");
            Tensor original = target.weight();
            double[] w0 = original.toDoubleArray();
            long[] shape = original.shape();
            double[] analytic;
            try (Scope s = Scope.open()) {
                original.requiresGrad(true);
                m.loss(m.tokens(ids), null).backward();
                analytic = original.grad().toDoubleArray();
                original.zeroGrad();
                original.requiresGrad(false);
            }
            double eps = 1e-6;
            for (int i : new int[] {0, 5, 333, 1000, w0.length - 1}) {
                double[] plus = w0.clone(), minus = w0.clone();
                plus[i] += eps;
                minus[i] -= eps;
                double lp = lossWith(m, target, plus, ids), lm = lossWith(m, target, minus, ids);
                assertEquals((lp - lm) / (2 * eps), analytic[i], 1e-6, m.source() + " dL/dW[" + i + "]");
            }
            target.setWeight(Torch.tensor(w0, shape).to(m.device()).escape());
        }
    }

    private static double lossWith(Model m, Linear l, double[] w, int[] ids) {
        l.setWeight(Torch.tensor(w, l.weight().shape()).to(m.device()).escape());
        try (Scope s = Scope.open();
                var g = Torch.noGrad()) {
            return m.loss(m.tokens(ids), null).item();
        }
    }

    @Test
    void everyLinearGetsTheGradientItsOwnBackwardGives() {
        int[] ids = {1, 9, 99, 199, 299};
        try (Scope s = Scope.open()) {
            var grads = llama.linearGradients(llama.tokens(ids), null);
            assertEquals(llama.linears().size(), grads.size());
            for (Linear l : llama.linears()) {
                assertArrayEquals(l.weight().shape(), grads.get(l.name()).shape(), l.name());
                assertTrue(!l.weight().requiresGrad() && l.weight().grad() == null, "weights left clean: " + l.name());
            }
            // one of them, again by the plain route
            Tensor w = llama.linear("layers.0.mlp.up").weight();
            w.requiresGrad(true);
            llama.loss(llama.tokens(ids), null).backward();
            assertArrayEquals(
                    w.grad().toDoubleArray(), grads.get("layers.0.mlp.up").toDoubleArray(), 1e-15);
            w.zeroGrad();
            w.requiresGrad(false);
        }
    }

    @Test
    void paddingChangesNothingForTheRealTokens() {
        int[] ids = {1, 40, 41, 42, 43};
        double[] alone = logits(llama, ids);
        int v = llama.config().vocabSize();
        try (Scope s = Scope.open();
                var g = Torch.noGrad()) {
            // left padding by 3 (with a junk token), next to a full-length row
            long[] batch = {0, 0, 0, 1, 40, 41, 42, 43, 1, 9, 8, 7, 6, 5, 4, 3};
            long[] mask = {0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1};
            double[] out = llama.forward(
                            Torch.tensor(batch, 2, 8).to(llama.device()),
                            Torch.tensor(mask, 2, 8).to(llama.device()))
                    .toDoubleArray();
            for (int t = 0; t < ids.length; t++)
                for (int j = 0; j < v; j++)
                    assertEquals(alone[t * v + j], out[(3 + t) * v + j], 1e-10, "position " + t);
            // a mask of all ones is the same as no mask
            double[] full =
                    llama.forward(llama.tokens(1, 9, 8, 7, 6, 5, 4, 3), null).toDoubleArray();
            double[] masked = llama.forward(
                            llama.tokens(1, 9, 8, 7, 6, 5, 4, 3), Torch.ones(DType.I64, llama.device(), 1, 8))
                    .toDoubleArray();
            assertArrayEquals(full, masked, 1e-10);
        }
    }

    @Test
    void badTokensAreRefusedPlainly() {
        var e = assertThrows(IllegalArgumentException.class, () -> llama.forward(llama.tokens(1, 512), null));
        assertTrue(e.getMessage().contains("512") && e.getMessage().contains("vocabulary"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> llama.forward(llama.tokens(1, -1), null));
        assertThrows(IllegalArgumentException.class, () -> llama.forward(llama.tokens(new int[300]), null));
    }

    @Test
    void laterTokensDoNotChangeEarlierLogits() {
        double[] shortRun = logits(llama, new int[] {1, 5, 6});
        double[] longRun = logits(llama, new int[] {1, 5, 6, 7, 8});
        for (int i = 0; i < shortRun.length; i++) assertEquals(shortRun[i], longRun[i], 1e-10);
    }

    @Test
    void cachedGenerationEqualsFullRecomputationAndBatchingChangesNothing() {
        int[][] prompts = {{1, 10, 20, 30}, {1, 400}, {1, 7, 7, 7, 7, 7, 7}};
        for (Model m : List.of(llama, qwen)) {
            Generation.Options greedy = Generation.Options.greedy(12);
            Generation.Tokens cached = Generation.generateTokens(m, prompts, greedy);
            Generation.Tokens recomputed = Generation.generateTokens(m, prompts, greedy.withoutCache());
            for (int i = 0; i < prompts.length; i++) {
                assertArrayEquals(recomputed.tokens()[i], cached.tokens()[i], m.source() + " prompt " + i);
                int[][] alone = {prompts[i]};
                assertArrayEquals(
                        Generation.generateTokens(m, alone, greedy).tokens()[0],
                        cached.tokens()[i],
                        "batched vs alone");
            }
        }
    }

    @Test
    void samplingIsSeededAndTopPNarrowsTheChoice() {
        int[][] prompt = {{1, 3}};
        var sample = Generation.Options.greedy(20).withSampling(1.0, 0.95, 7);
        int[] a = Generation.generateTokens(llama, prompt, sample).tokens()[0];
        int[] b = Generation.generateTokens(llama, prompt, sample).tokens()[0];
        assertArrayEquals(a, b, "same seed, same sample");
        int[] c = Generation.generateTokens(llama, prompt, sample.withSampling(1.0, 0.95, 8))
                .tokens()[0];
        assertNotEquals(java.util.Arrays.toString(a), java.util.Arrays.toString(c), "another seed, another sample");
        // a vanishing nucleus keeps only the most likely token: sampling becomes greedy
        int[] nucleus = Generation.generateTokens(llama, prompt, sample.withSampling(1.0, 1e-9, 3))
                .tokens()[0];
        assertArrayEquals(
                Generation.generateTokens(llama, prompt, Generation.Options.greedy(20))
                        .tokens()[0],
                nucleus);
    }

    @Test
    void aCopySharesWeightsUntilOneIsReplaced() {
        try (Model copy = llama.copy()) {
            int[] ids = {1, 2, 3, 4};
            assertArrayEquals(logits(llama, ids), logits(copy, ids), 0);
            Linear l = copy.linear("layers.0.mlp.down");
            l.setWeight(
                    Torch.zeros(DType.F64, copy.device(), l.weight().shape()).escape());
            assertNotEquals(logits(llama, ids)[5], logits(copy, ids)[5]);
            assertTrue(llama.linear("layers.0.mlp.down").weight().abs().sum().item() > 0, "the original is untouched");
        }
        assertThrows(
                IllegalArgumentException.class,
                () -> llama.linear("layers.0.mlp.down").setWeight(Torch.zeros(DType.F64, 3, 3)));
        assertThrows(IllegalArgumentException.class, () -> llama.linear("layers.9.mlp.down"));
    }

    @Test
    void inputHooksSeeEveryInput() {
        Linear down = llama.linear("layers.1.mlp.down");
        long[] seen = new long[1];
        down.setInputHook(x -> seen[0] += x.numel());
        try {
            logits(llama, new int[] {1, 2, 3});
        } finally {
            down.setInputHook(null);
        }
        assertEquals(3 * llama.config().intermediateSize(), seen[0]);
    }

    @Test
    void llama3RopeScalingFollowsTheRule() {
        Config c = RandomModel.preset("llama3-8b");
        double[] inv = Rope.inverseFrequencies(c);
        double[] plain = Rope.inverseFrequencies(new Config(
                c.architecture(),
                10,
                64,
                64,
                1,
                1,
                1,
                c.headDim(),
                16,
                c.ropeTheta(),
                null,
                1e-5,
                false,
                1,
                2,
                DType.F32));
        // high frequencies (wavelength < 8192/4) unchanged; low (wavelength > 8192) divided by 8
        assertEquals(plain[0], inv[0], 0);
        assertEquals(plain[63] / 8, inv[63], 1e-18);
        for (int i = 0; i < 64; i++) assertTrue(inv[i] <= plain[i] && inv[i] >= plain[i] / 8 - 1e-18);
    }
}
