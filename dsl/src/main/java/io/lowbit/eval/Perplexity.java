package io.lowbit.eval;

import io.lowbit.model.Interrupts;
import io.lowbit.model.Model;
import io.lowbit.model.Progress;
import io.lowbit.torch.Scope;
import io.lowbit.torch.Tensor;
import io.lowbit.torch.Torch;

/**
 * Perplexity by the protocol GPTQ, TaCQ and TesseraQ report: tokenize the whole text once with BOS
 * in front, cut it into non-overlapping windows of the context length, drop the last partial
 * window, average the next-token negative log-likelihood over positions 1..T−1 of every window,
 * and take exp of the average.
 */
public final class Perplexity {
    private Perplexity() {}

    /** Windows of {@code window} tokens, {@code batch} at a time; at most {@code maxWindows} (0: all). */
    public record Options(int window, int batch, int maxWindows) {
        public Options {
            if (window < 2) throw new IllegalArgumentException("window must be at least 2 tokens");
            if (batch < 1) throw new IllegalArgumentException("batch must be at least 1");
        }

        /** The model's context length capped at 2048; the batch as below. */
        public static Options defaults(Model m) {
            int window = Math.min(m.config().maxPositions(), 2048);
            return new Options(window, defaultBatch(m, window), 0);
        }

        /** 8 windows a batch on a GPU, fewer on a CPU ({@link Model#batchFor}). */
        public static int defaultBatch(Model m, int window) {
            return m.batchFor(window, m.device(), 8);
        }
    }

    /** The measured perplexity with what it was measured on. */
    public record Result(
            String model,
            String text,
            double perplexity,
            double meanNll,
            int windows,
            int window,
            long tokens,
            double seconds) {}

    public static Result of(Model m, String name, String text, Options o, Progress progress) {
        if (m.tokenizer() == null) throw new IllegalStateException("the model has no tokenizer: " + m.source());
        if (o.window() > m.config().maxPositions())
            throw new IllegalArgumentException("window " + o.window() + " exceeds the model's context of "
                    + m.config().maxPositions());
        long t0 = System.nanoTime();
        int[] ids = m.tokenizer().encode(text, true, false);
        int windows = ids.length / o.window();
        if (o.maxWindows() > 0) windows = Math.min(windows, o.maxWindows());
        if (windows == 0)
            throw new IllegalArgumentException(
                    name + ": " + ids.length + " tokens, fewer than one window of " + o.window());
        double nllSum = 0;
        long counted = 0;
        try (var g = Torch.noGrad()) {
            for (int start = 0; start < windows; start += o.batch()) {
                Interrupts.check();
                int n = Math.min(o.batch(), windows - start);
                long[] batch = new long[n * o.window()];
                for (int i = 0; i < batch.length; i++) batch[i] = ids[start * o.window() + i];
                try (Scope s = Scope.open()) {
                    Tensor tokens = Torch.tensor(batch, n, o.window()).to(m.device());
                    // the model's loss is the mean over n·(T−1) positions; weight it back into a sum
                    double mean = m.loss(tokens, null).item();
                    nllSum += mean * n * (o.window() - 1);
                    counted += (long) n * (o.window() - 1);
                }
                progress.update("perplexity windows", start + n, windows);
            }
        }
        double meanNll = nllSum / counted;
        return new Result(
                m.source(),
                name,
                Math.exp(meanNll),
                meanNll,
                windows,
                o.window(),
                counted,
                (System.nanoTime() - t0) / 1e9);
    }
}
