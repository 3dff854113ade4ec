package io.lowbit.bench;

import io.lowbit.data.DataFiles;
import io.lowbit.eval.Spider;
import io.lowbit.model.Config;
import io.lowbit.model.Llama2cTokenizer;
import io.lowbit.model.Model;
import io.lowbit.model.Models;
import io.lowbit.model.Progress;
import io.lowbit.model.RandomModel;
import io.lowbit.torch.Cuda;
import io.lowbit.torch.DType;
import io.lowbit.torch.Device;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;

/**
 * Throughput of a Spider pass ({@code ./lowbit run io.lowbit.bench.SpiderBench [model] [newTokens] [questions]
 * [batch]}): the prompts of the dev questions on all databases present (972 while wta_1 is missing; a
 * seeded draw when {@code questions} is smaller), greedy generation of up to {@code newTokens} tokens
 * each, every prediction executed. Prints questions/s, prompt and generated tokens/s and peak memory.
 * A "random:" model (default random:llama3-8b, bf16) has no tokenizer: the shipped 512-token one
 * stands in, with the model's vocabulary cut to 512, so prompts come out 2–3× longer than with Llama
 * 3's own; random weights never write ';', so every question generates all {@code newTokens}.
 */
public final class SpiderBench {
    private SpiderBench() {}

    public static void main(String[] args) throws IOException {
        String spec = args.length > 0 ? args[0] : "random:llama3-8b";
        int newTokens = args.length > 1 ? Integer.parseInt(args[1]) : 128;
        int questions = args.length > 2 ? Integer.parseInt(args[2]) : 0;
        int batch = args.length > 3 ? Integer.parseInt(args[3]) : 64;
        Device d = Device.defaultDevice();
        try (Model m = open(spec, d)) {
            Spider.Options o = Spider.Options.defaults()
                    .split(Spider.Split.ALL)
                    .maxNewTokens(newTokens)
                    .batch(batch);
            Spider.run(m, o.limit(Math.min(batch, 8)), Progress.NONE); // warm-up
            if (d.isCuda()) Cuda.resetPeakMemory(d.index());
            long t0 = System.nanoTime();
            Progress lines = (what, done, total) -> System.err.printf(
                    Locale.ROOT, "%s %d/%d at %.1f s%n", what, done, total, (System.nanoTime() - t0) / 1e9);
            Spider.Result r = Spider.run(m, o.limit(questions), lines);
            String peak = d.isCuda()
                    ? String.format(Locale.ROOT, "%.1f GiB GPU", Cuda.maxMemoryAllocated(d.index()) / 1073741824.0)
                    : String.format(Locale.ROOT, "%.2f GiB RSS", peakRssGiB());
            System.out.printf(
                    Locale.ROOT,
                    "| Spider %s, batch %d, ≤%d new tokens | %d questions (%s) | %.1f s "
                            + "| %.2f questions/s | %.0f prompt tokens/s | %.1f new tokens/s | %s | EX %.2f %% |%n",
                    m.name(),
                    batch,
                    newTokens,
                    r.evaluated(),
                    r.coverage(),
                    r.seconds(),
                    r.evaluated() / r.seconds(),
                    r.promptTokens() / r.seconds(),
                    r.newTokens() / r.seconds(),
                    peak,
                    100 * r.accuracy());
            StringBuilder levels = new StringBuilder();
            for (var e : r.byLevel().entrySet())
                levels.append(String.format(Locale.ROOT, " %s %d/%d", e.getKey(), e.getValue()[0], e.getValue()[1]));
            System.out.printf(
                    Locale.ROOT,
                    "correct %d of %d; errors %d, timeouts %d, over the row cap %d, skipped %d, "
                            + "prompts cut to fit %d; by level:%s%n",
                    r.correct(),
                    r.evaluated(),
                    r.errors(),
                    r.timeouts(),
                    r.tooManyRows(),
                    r.skipped(),
                    r.truncated(),
                    levels);
        }
    }

    private static Model open(String spec, Device d) {
        if (!spec.startsWith("random:")) return Models.load(spec);
        var tok = Llama2cTokenizer.load(DataFiles.find("models/stories260K/tok512.bin"), 512);
        Config p = RandomModel.preset(spec.substring("random:".length()));
        Config c = new Config(
                p.architecture(),
                512,
                p.hiddenSize(),
                p.intermediateSize(),
                p.numLayers(),
                p.numHeads(),
                p.numKvHeads(),
                p.headDim(),
                p.maxPositions(),
                p.ropeTheta(),
                p.ropeScaling(),
                p.rmsNormEps(),
                false,
                1,
                2,
                DType.BF16);
        return RandomModel.create(c, spec + "-v512", d, 0, tok);
    }

    /** The process's peak resident memory (VmHWM), the host-side measure on a CPU run. */
    private static double peakRssGiB() throws IOException {
        for (String line : Files.readAllLines(Path.of("/proc/self/status")))
            if (line.startsWith("VmHWM:")) return Long.parseLong(line.replaceAll("[^0-9]", "")) / 1048576.0;
        return Double.NaN;
    }
}
