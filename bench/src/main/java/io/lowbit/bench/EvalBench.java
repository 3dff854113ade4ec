package io.lowbit.bench;

import io.lowbit.data.DataFiles;
import io.lowbit.eval.Gsm8k;
import io.lowbit.eval.Mmlu;
import io.lowbit.model.Config;
import io.lowbit.model.Llama2cTokenizer;
import io.lowbit.model.Model;
import io.lowbit.model.Progress;
import io.lowbit.model.RandomModel;
import io.lowbit.torch.DType;
import io.lowbit.torch.Device;
import java.util.Locale;

/**
 * Evaluation throughput on a GPU ({@code ./lowbit run io.lowbit.bench.EvalBench}): random:llama3-8b
 * shapes (bf16) with the shipped 512-token tokenizer standing in for Llama 3's, and so a 512-token
 * vocabulary (prompts come out about 2–3× longer in tokens than with the real one): GSM8K questions per
 * second at batch 64 (256 new tokens each: random weights never stop early), and the time for
 * MMLU's last-quarter split (each subject's 5-shot prefix run once, then 16 questions per batch;
 * the stand-in tokenizer splits " A" into two tokens, so each question scores four two-token answers).
 */
public final class EvalBench {
    private EvalBench() {}

    /** {@code args[0]}: GSM8K questions (64; 0 skips GSM8K). */
    public static void main(String[] args) {
        int questions = args.length > 0 ? Integer.parseInt(args[0]) : 64;
        var tok = Llama2cTokenizer.load(DataFiles.find("models/stories260K/tok512.bin"), 512);
        Config l3 = RandomModel.preset("llama3-8b");
        // Llama 3 8B's shape with the stand-in tokenizer's 512-token vocabulary (lm_head ~6 % of the weights smaller)
        Config c = new Config(
                l3.architecture(),
                512,
                l3.hiddenSize(),
                l3.intermediateSize(),
                l3.numLayers(),
                l3.numHeads(),
                l3.numKvHeads(),
                l3.headDim(),
                l3.maxPositions(),
                l3.ropeTheta(),
                l3.ropeScaling(),
                l3.rmsNormEps(),
                false,
                1,
                2,
                DType.BF16);
        try (Model m = RandomModel.create(c, "random:llama3-8b-v512", Device.defaultDevice(), 0, tok)) {
            if (questions > 0) {
                Gsm8k.run(m, Gsm8k.Options.defaults().limit(2), Progress.NONE); // warm-up
                var g = Gsm8k.run(m, Gsm8k.Options.defaults().limit(questions), Progress.NONE);
                System.out.printf(
                        Locale.ROOT,
                        "| GSM8K random:llama3-8b, batch 64 | %d questions | %.1f s | %.2f questions/s |%n",
                        g.n(),
                        g.seconds(),
                        g.n() / g.seconds());
            }
            long t0 = System.nanoTime(); // a line per subject, so that a run cut short still shows its pace
            Progress subjects = (what, done, total) -> System.err.printf(
                    Locale.ROOT, "%s %d/%d at %.1f s%n", what, done, total, (System.nanoTime() - t0) / 1e9);
            var q = Mmlu.run(m, 0.25, 0, subjects);
            System.out.printf(
                    Locale.ROOT,
                    "| MMLU last 25%% random:llama3-8b, shared prefix, batch 16 | %d questions | %.1f s | %.1f questions/s |%n",
                    q.n(),
                    q.seconds(),
                    q.n() / q.seconds());
        }
    }
}
