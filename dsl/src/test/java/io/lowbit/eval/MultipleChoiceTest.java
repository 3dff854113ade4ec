package io.lowbit.eval;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.lowbit.TestData;
import io.lowbit.model.Model;
import io.lowbit.model.Models;
import io.lowbit.model.Progress;
import io.lowbit.torch.Scope;
import io.lowbit.torch.Torch;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** Log-likelihood scoring and lm-evaluation-harness's acc / acc_norm. */
class MultipleChoiceTest {
    static Model m;

    @BeforeAll
    static void load() {
        m = Models.load(TestData.stories260K().toString());
    }

    @AfterAll
    static void free() {
        m.close();
    }

    @Test
    void accTakesTheLikeliestChoiceAccNormTheLikeliestPerByte() {
        // choice 0: log p −5 over 2 bytes (−2.5/byte); choice 1: −8 over 20 bytes (−0.4/byte)
        assertArrayEquals(new int[] {0, 1}, MultipleChoice.pick(new double[] {-5, -8}, new int[] {2, 20}));
        assertArrayEquals(new int[] {2, 2}, MultipleChoice.pick(new double[] {-9, -7, -1, -3}, new int[] {5, 5, 5, 5}));
        assertArrayEquals(
                new int[] {0, 0}, MultipleChoice.pick(new double[] {-2, -2}, new int[] {4, 4}), "the first on ties");
    }

    /** log p(continuation | context) from one plain forward of the whole sequence, summed in Java. */
    private static double direct(LogLikelihood.Request r) {
        int[] all = new int[r.context().length + r.continuation().length];
        System.arraycopy(r.context(), 0, all, 0, r.context().length);
        System.arraycopy(r.continuation(), 0, all, r.context().length, r.continuation().length);
        try (Scope s = Scope.open();
                var g = Torch.noGrad()) {
            double[] logits = m.forward(m.tokens(all), null).toDoubleArray();
            int v = m.config().vocabSize();
            double sum = 0;
            for (int t = r.context().length; t < all.length; t++) {
                int row = (t - 1) * v;
                double max = Double.NEGATIVE_INFINITY, z = 0;
                for (int j = 0; j < v; j++) max = Math.max(max, logits[row + j]);
                for (int j = 0; j < v; j++) z += Math.exp(logits[row + j] - max);
                sum += logits[row + all[t]] - max - Math.log(z);
            }
            return sum;
        }
    }

    @Test
    void batchedLogLikelihoodsEqualOneSequenceAtATime() {
        String[][] pairs = {
            {"Once upon a time, there was a", " little girl"},
            {"Tom had a", " big red ball"},
            {"The sun was", " hot"},
            {"Lily and her mom went to the park. They saw a", " dog"}
        };
        List<LogLikelihood.Request> reqs = new ArrayList<>();
        for (String[] p : pairs) reqs.add(LogLikelihood.encode(m.tokenizer(), p[0], p[1]));
        List<LogLikelihood.Score> batched = LogLikelihood.score(m, reqs, Progress.NONE);
        for (int i = 0; i < reqs.size(); i++) {
            assertEquals(direct(reqs.get(i)), batched.get(i).logLikelihood(), 1e-4, pairs[i][0]);
            assertEquals(
                    batched.get(i).logLikelihood(),
                    LogLikelihood.score(m, List.of(reqs.get(i)), Progress.NONE)
                            .get(0)
                            .logLikelihood(),
                    1e-4);
        }
        // the continuation's tokens are what encode(context + continuation) adds to encode(context)
        LogLikelihood.Request r = reqs.get(0);
        int[] whole = m.tokenizer().encode(pairs[0][0] + pairs[0][1], true, false);
        assertEquals(whole.length, r.context().length + r.continuation().length);
        assertTrue(batched.get(0).logLikelihood() > batched.get(2).logLikelihood() - 20, "finite and sane");
    }

    @Test
    void requestsLongerThanTheContextKeepTheirEnd() {
        int[] ctx = new int[600], cont = new int[700];
        java.util.Arrays.fill(ctx, 300);
        java.util.Arrays.fill(cont, 301);
        ctx[0] = 1;
        var scores = LogLikelihood.score(
                m,
                List.of(new LogLikelihood.Request(ctx, new int[] {302, 303}), new LogLikelihood.Request(ctx, cont)),
                Progress.NONE);
        assertTrue(Double.isFinite(scores.get(0).logLikelihood())
                && Double.isFinite(scores.get(1).logLikelihood()));
    }

    @Test
    void tasksReadTheirFilesWithTheHarnessPrompts() {
        TestData.shared("choice");
        var arc = MultipleChoice.items(MultipleChoice.Task.ARC_EASY, 0, 0);
        assertEquals(2376, arc.size());
        assertTrue(arc.get(0).contexts().get(0).startsWith("Question: ")
                && arc.get(0).contexts().get(0).endsWith("\nAnswer:"));
        assertTrue(arc.get(0).continuations().stream().allMatch(c -> c.startsWith(" ")));
        var hella = MultipleChoice.items(MultipleChoice.Task.HELLASWAG, 0, 0);
        assertEquals(10042, hella.size());
        assertEquals(4, hella.get(0).choices());
        var wino = MultipleChoice.items(MultipleChoice.Task.WINOGRANDE, 0, 0);
        assertEquals(2, wino.get(0).contexts().size(), "partial scoring: one context per option");
        assertEquals(1, wino.get(0).continuations().size(), "and one continuation");
        var some = MultipleChoice.items(MultipleChoice.Task.PIQA, 50, 7);
        assertEquals(50, some.size());
        assertEquals(some, MultipleChoice.items(MultipleChoice.Task.PIQA, 50, 7), "a seeded subset repeats");
    }

    @Test
    void stories260kRunsEveryTaskAndBeatsUniformOnLambada() {
        TestData.shared("choice");
        for (MultipleChoice.Task t : MultipleChoice.Task.values()) {
            var r = MultipleChoice.run(m, t, 20, 1, Progress.NONE);
            assertEquals(20, r.n(), t.label);
            assertTrue(r.acc() >= 0 && r.acc() <= 1, t.label);
            if (t == MultipleChoice.Task.LAMBADA) {
                // a uniform model gives a k-token word log p = −k·ln 512: its per-example perplexity is exp(mean k·ln
                // 512)
                double uniformNll = 0;
                var items = MultipleChoice.items(t, 20, 1);
                for (var it : items)
                    uniformNll += LogLikelihood.encode(m.tokenizer(), it.context(0), it.continuation(0))
                                    .continuation()
                                    .length
                            * Math.log(512);
                double uniform = Math.exp(uniformNll / items.size());
                assertTrue(
                        r.perplexity() < uniform / 100,
                        "LAMBADA perplexity " + r.perplexity() + " vs uniform " + uniform);
            }
        }
    }
}
