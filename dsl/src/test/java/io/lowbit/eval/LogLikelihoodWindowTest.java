package io.lowbit.eval;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.lowbit.TestData;
import io.lowbit.model.Model;
import io.lowbit.model.Models;
import io.lowbit.model.Progress;
import io.lowbit.torch.Scope;
import io.lowbit.torch.Torch;
import java.nio.file.Files;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Requests longer than the model's context are cut as lm-evaluation-harness cuts them
 * (EleutherAI/lm-evaluation-harness, lm_eval/models/huggingface.py, HFLM._loglikelihood_tokens):
 * the input is (context + continuation)[-(max_length + 1):][:-1], and the last len(continuation)
 * logits score the continuation.
 */
class LogLikelihoodWindowTest {
    static Model m;
    static int[] story;

    @BeforeAll
    static void load() throws Exception {
        m = Models.load(TestData.stories260K().toString());
        story = m.tokenizer().encode(Files.readString(TestData.shipped("text/tinystories_val.txt")), true, false);
    }

    @AfterAll
    static void free() {
        m.close();
    }

    /** The harness's rule written out: one unbatched forward of the window, log-softmax summed in Java. */
    private static double harness(LogLikelihood.Request r, int maxLength) {
        int[] all = new int[r.context().length + r.continuation().length];
        System.arraycopy(r.context(), 0, all, 0, r.context().length);
        System.arraycopy(r.continuation(), 0, all, r.context().length, r.continuation().length);
        int[] inp = Arrays.copyOfRange(all, Math.max(0, all.length - (maxLength + 1)), all.length - 1);
        int contlen = r.continuation().length,
                inplen = inp.length,
                v = m.config().vocabSize();
        try (Scope s = Scope.open();
                var g = Torch.noGrad()) {
            double[] logits = m.forward(m.tokens(inp), null).toDoubleArray();
            double sum = 0;
            for (int j = 0; j < contlen; j++) {
                int row = (inplen - contlen + j) * v;
                double max = Double.NEGATIVE_INFINITY, z = 0;
                for (int c = 0; c < v; c++) max = Math.max(max, logits[row + c]);
                for (int c = 0; c < v; c++) z += Math.exp(logits[row + c] - max);
                sum += logits[row + r.continuation()[j]] - max - Math.log(z);
            }
            return sum;
        }
    }

    private static LogLikelihood.Request request(int contextLength, int continuationLength) {
        return new LogLikelihood.Request(
                Arrays.copyOf(story, contextLength),
                Arrays.copyOfRange(story, contextLength, contextLength + continuationLength));
    }

    @Test
    void aPromptLongerThanTheWindowKeepsTheHarnessWindow() {
        int max = m.config().maxPositions();
        assertTrue(story.length > max + 200, "the text is longer than the window");
        // exactly max + 1 tokens: the harness keeps BOS and drops only the final token; 60 tokens over;
        // a continuation near the window's size; and one that fits, in the same batches
        List<LogLikelihood.Request> reqs =
                List.of(request(max - 2, 3), request(max + 40, 20), request(300, 200), request(100, 7));
        List<LogLikelihood.Score> got = LogLikelihood.score(m, reqs, Progress.NONE);
        for (int i = 0; i < reqs.size(); i++) {
            double expected = harness(reqs.get(i), max);
            // float32 logits batched with right padding against one row alone: the sum of ≤ 200 log-probabilities,
            // each within about 1e-6 of the unbatched value, stays within 1e-4
            assertEquals(expected, got.get(i).logLikelihood(), 1e-4 + 1e-6 * Math.abs(expected), "request " + i);
        }
    }
}
