package io.lowbit.dsl;

import static io.lowbit.dsl.Lowbit.GPTQ;
import static io.lowbit.dsl.Lowbit.RTN;
import static io.lowbit.dsl.Lowbit.bits;
import static io.lowbit.dsl.Lowbit.calibrate;
import static io.lowbit.dsl.Lowbit.eval;
import static io.lowbit.dsl.Lowbit.load;
import static io.lowbit.dsl.Lowbit.perplexity;
import static io.lowbit.dsl.Lowbit.quantize;
import static io.lowbit.dsl.Lowbit.summary;
import static io.lowbit.dsl.Lowbit.text;
import static io.lowbit.dsl.Lowbit.tinystories;

import io.lowbit.data.DataFiles;
import io.lowbit.model.Generation;
import io.lowbit.model.Model;
import io.lowbit.torch.EngineDemo;

/**
 * {@code ./lowbit demo}: the engine tour, then the shipped stories260K model writing a story and
 * its perplexity on the TinyStories validation text, through the DSL's verbs.
 */
public final class Demo {
    private Demo() {}

    public static void main(String[] args) {
        EngineDemo.main(args);
        if (args.length > 0 && args[0].equals("--info")) return;
        String path = DataFiles.root().resolve("data/models/stories260K").toString();
        try (Model m = load(path)) {
            System.out.println("\n" + m);
            var story = Generation.generate(m, "", Generation.Options.greedy(60));
            System.out.println("greedy from BOS: " + story.text());
            var sampled = Generation.generate(
                    m, "Once upon a time, a cat", Generation.Options.greedy(40).withSampling(0.8, 0.95, 1));
            System.out.println(
                    "sampled (T 0.8, top-p 0.95, seed 1) after \"Once upon a time, a cat\": " + sampled.text());
            boolean all = args.length > 0 && args[0].equals("--full");
            System.out.println();
            System.out.println(eval(
                    m,
                    all ? perplexity(tinystories()) : perplexity(tinystories()).first(32)));
            if (!all) System.out.println("(the first 32 windows; ./lowbit demo --full measures all of them)");

            // quantization: 3 bits per weight in groups of 32, by rounding and by GPTQ on 32 calibration windows
            var cal = calibrate(m, text("text/tinystories_train_excerpt.txt"), 32, 512);
            try (var rtn = quantize(m, bits(3).groups(32), RTN);
                    var gptq = quantize(m, bits(3).groups(32), GPTQ, cal)) {
                System.out.println();
                System.out.println(summary(rtn, gptq));
                var task = all
                        ? perplexity(tinystories())
                        : perplexity(tinystories()).first(32);
                System.out.println(eval(rtn, task).concat(eval(gptq, task)));
            }
        }
    }
}
