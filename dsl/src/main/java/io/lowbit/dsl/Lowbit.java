package io.lowbit.dsl;

import io.lowbit.data.Calibration;
import io.lowbit.eval.MultipleChoice;
import io.lowbit.model.Generation;
import io.lowbit.model.Model;
import io.lowbit.model.Models;
import io.lowbit.model.Progress;
import io.lowbit.quant.Awq;
import io.lowbit.quant.Claq;
import io.lowbit.quant.Export;
import io.lowbit.quant.Gptq;
import io.lowbit.quant.GptqFormat;
import io.lowbit.quant.Grid;
import io.lowbit.quant.Mask;
import io.lowbit.quant.Method;
import io.lowbit.quant.Quantize;
import io.lowbit.quant.QuantizedModel;
import io.lowbit.quant.Rtn;
import io.lowbit.quant.Saliency.Score;
import io.lowbit.quant.Tesseraq;
import java.util.List;
import java.util.function.Supplier;

/**
 * The DSL's verbs, for {@code import static io.lowbit.dsl.Lowbit.*}. Each verb is one call: the
 * work lives in the classes beside this one ({@link Sweep}, {@link Comparison}, {@link Kept}, ...)
 * and in the library, so this file reads as the list of what a notebook can say.
 *
 * <pre>{@code
 * var m = load("data/models/stories260K");
 * eval(m, perplexity(tinystories()));
 * }</pre>
 */
public final class Lowbit {
    private Lowbit() {}

    /** The notebook kernel installs its own progress display here; the default prints lines to stderr. */
    public static void setProgress(Supplier<Progress> p) {
        ProgressDisplay.use(p);
    }

    static Progress progress() {
        return ProgressDisplay.open();
    }

    // ---------------------------------------------------------------- models

    /**
     * A Hugging Face folder (a GPTQ-format one opens as its dequantized weights), a llama2.c .bin (or its
     * folder), or "random:&lt;preset&gt;", on the default device: {@code load("random:llama3-8b")}.
     */
    public static Model load(String spec) {
        return GptqFormat.loadModel(spec, Models.Options.defaults());
    }

    /** {@link #load(String)} with options: {@code load("stories260K", Models.Options.defaults().on(Device.cpu()))}. */
    public static Model load(String spec, Models.Options options) {
        return GptqFormat.loadModel(spec, options);
    }

    /**
     * A quantized model with its codes: a GPTQ-format checkpoint (Lowbit's export or another tool's) or
     * a folder Lowbit saved: {@code loadQuantized("out/w4-gptq")}.
     */
    public static QuantizedModel loadQuantized(String folder) {
        return GptqFormat.loadQuantized(folder);
    }

    /**
     * Writes {@code q} for other tools: {@code export(q, "out/w4", GPTQ_FORMAT)} (packed, for GPTQModel,
     * transformers, vLLM), {@code HF_DENSE} (the evaluated weights in bf16, kept weights included) or
     * {@code LOWBIT} (Lowbit's packed folder: codes in int32 words, kept weights sparse, no dense copy).
     */
    public static void export(QuantizedModel q, String folder, Export format) {
        format.write(q, java.nio.file.Path.of(folder));
    }

    /** {@link #export}'s formats. */
    public static final Export GPTQ_FORMAT = Export.GPTQ_FORMAT;

    public static final Export HF_DENSE = Export.HF_DENSE;
    public static final Export LOWBIT = Export.LOWBIT;

    /**
     * Continues {@code prompt} with up to {@code maxNewTokens} tokens, greedily (the same text every
     * time); the result prints as the prompt followed by the continuation: {@code generate(m, "Once upon a time", 60)}.
     */
    public static Generation.Completion generate(Model m, String prompt, int maxNewTokens) {
        return Generation.generate(m, prompt, Generation.Options.greedy(maxNewTokens));
    }

    /**
     * {@link #generate(Model, String, int)} with sampling (temperature, top-p, seed):
     * {@code generate(m, "Once upon a time", 60, 0.8, 0.95, 1)}.
     */
    public static Generation.Completion generate(
            Model m, String prompt, int maxNewTokens, double temperature, double topP, long seed) {
        return Generation.generate(
                m, prompt, Generation.Options.greedy(maxNewTokens).withSampling(temperature, topP, seed));
    }

    // ---------------------------------------------------------------- texts

    /** The TinyStories validation stories shipped in data/text: {@code perplexity(tinystories())}. */
    public static Text tinystories() {
        return Text.data("text/tinystories_val.txt", "tinystories-val");
    }

    /**
     * An excerpt of the TinyStories training stories shipped in data/text: calibrate on this, measure
     * on {@link #tinystories()}: {@code calibrate(m, tinystoriesTrain(), 32, 256)}.
     */
    public static Text tinystoriesTrain() {
        return Text.data("text/tinystories_train_excerpt.txt", "tinystories-train");
    }

    /** WikiText-2 raw test split (from the data folder; see data/README.md): {@code perplexity(wikitext2())}. */
    public static Text wikitext2() {
        return Text.data("text/wikitext2_test_raw.txt", "wikitext2-test");
    }

    /** The C4 sample: {@code perplexity(c4())}. */
    public static Text c4() {
        return Text.data("text/c4_sample.txt", "c4-sample");
    }

    /** A text file by path, or by its path under a data folder: {@code text("text/tinystories_val.txt")}. */
    public static Text text(String path) {
        return Text.of(path);
    }

    // ---------------------------------------------------------------- quantization

    /** Round to nearest: {@code quantize(m, bits(4), RTN)}. */
    public static final Rtn.Options RTN = Rtn.Options.defaults();
    /** GPTQ with the reference's defaults; {@link #gptq()} to refine them. */
    public static final Gptq.Options GPTQ = Gptq.Options.defaults();
    /** AWQ: activation-aware channel scales and clip search, then round to nearest: {@code quantize(m, bits(3).groups(32), AWQ, cal)}. */
    public static final Awq.Options AWQ = Awq.Options.defaults();
    /** TesseraQ block reconstruction with the reference's schedule: {@code quantize(m, bits(2).groups(128), TESSERAQ, cal)}. */
    public static final Tesseraq.Options TESSERAQ = Tesseraq.Options.defaults();

    /**
     * CLAQ (Wang et al., arXiv 2405.17233): GPTQ with a K-means codebook per column instead of the grid,
     * act-order on, the width from the grid and nothing else of it: {@code quantize(m, bits(3), CLAQ, cal)};
     * {@link #claq()} for adaptive precision and outlier reservation.
     */
    public static final Claq.Options CLAQ = Claq.Options.defaults();

    /** A per-row asymmetric min/max grid of {@code n} bits; {@code bits(3).groups(128).mse()} for more. */
    public static Grid bits(int n) {
        return Grid.bits(n);
    }

    /**
     * The first {@code n} windows of the model's context (capped at 2048) of [BOS] + the text:
     * {@code calibrate(m, tinystoriesTrain(), 128)}.
     */
    public static Calibration calibrate(Model m, Text text, int n) {
        return Calibrations.firstWindows(m, text, n);
    }

    /**
     * The first {@code n} windows of {@code length} tokens of [BOS] + the text:
     * {@code calibrate(m, c4(), 128, 2048)}.
     */
    public static Calibration calibrate(Model m, Text text, int n, int length) {
        return Calibrations.firstWindows(m, text, n, length);
    }

    /** n windows at random starts, seeded (GPTQ's sampling): {@code calibrateSampled(m, c4(), 128, 2048, 0)}. */
    public static Calibration calibrateSampled(Model m, Text text, int n, int length, long seed) {
        return Calibrations.sampledWindows(m, text, n, length, seed);
    }

    /** RTN needs no calibration: {@code quantize(m, bits(4), RTN)}. */
    public static QuantizedModel quantize(Model m, Grid grid, Method method) {
        return quantize(m, grid, method, null, (Mask) null);
    }

    /** GPTQ needs calibration: {@code quantize(m, bits(3), GPTQ, calibrate(m, tinystoriesTrain(), 128))}. */
    public static QuantizedModel quantize(Model m, Grid grid, Method method, Calibration cal) {
        return quantize(m, grid, method, cal, (Mask) null);
    }

    /**
     * A new quantized model (the original is untouched) by any method, defaults or refined:
     * {@code quantize(m, bits(4), gptq().actOrder().staticGroups(), cal)}; {@code mask} marks weights
     * kept in 16 bits (RTN, GPTQ and CLAQ). The work runs on the default device: a model loaded into host
     * memory is quantized on the GPU one block at a time.
     */
    public static QuantizedModel quantize(Model m, Grid grid, Method method, Calibration cal, Mask mask) {
        return Quantize.run(m, grid, method, cal, mask, progress(), io.lowbit.torch.Device.defaultDevice());
    }

    /** RTN's options (it has none beyond the grid): {@code quantize(m, bits(4), rtn())}. */
    public static Rtn.Options rtn() {
        return Rtn.Options.defaults();
    }

    /**
     * GPTQ's options, starting from the reference's (block 128, 1 % damping, natural order):
     * {@code gptq().actOrder().staticGroups()}, {@code .blockSize(64)}, {@code .percDamp(0.05)}.
     */
    public static Gptq.Options gptq() {
        return Gptq.Options.defaults();
    }

    /**
     * CLAQ's options, starting from the reference's (act-order, block 128, 1 % damping, Lloyd's K-means):
     * adaptive precision at an average of 2.1 bits, 5 % of the columns (those with the most outliers) at
     * 4 bits, {@code quantize(m, bits(2), claq().adaptive(2.1), cal)}; outlier reservation, the largest
     * 0.4 % of each column's weights (1.4 % in the 10 % of columns with the most outliers) left exact,
     * {@code claq().reserve()}; the optimal 1-D K-means instead of Lloyd's, {@code claq().exact()}. With
     * TaCQ's kept weights, which stay exact and out of every codebook:
     * {@code quantize(m, bits(2), claq().adaptive(2.1).reserve(), cal, keep(saliency(m, cal, bits(2)), 0.35))}.
     */
    public static Claq.Options claq() {
        return Claq.Options.defaults();
    }

    /** AWQ's options (its searches use the reference's grids): {@code quantize(m, bits(3).groups(32), awq(), cal)}. */
    public static Awq.Options awq() {
        return Awq.Options.defaults();
    }

    /**
     * TesseraQ's options, starting from the reference's (20 rounds × 250 iterations, lr 1e−3, batch
     * 4, AWQ initialisation, seed 42):
     * {@code quantize(m, bits(2).groups(32), tesseraq().tenRounds().iterations(50), cal)},
     * {@code .init(Tesseraq.Init.CLIP)}, {@code .checkpoints(Path.of("runs/w2"))}, {@code .hostChains(true)}.
     * A live line shows block, round and loss; the stop button ends it between iterations. Every
     * finished block is saved to a folder (the options' own, or one per run under ~/.cache/lowbit/tesseraq,
     * or $LOWBIT_CACHE/tesseraq; {@code .noCheckpoints()}: none), so running the cell again after a stop,
     * a crash or a restart resumes where it was and gives the same codes. {@link #reconstruction(QuantizedModel)}
     * shows the losses.
     */
    public static Tesseraq.Options tesseraq() {
        return Tesseraq.Options.defaults();
    }

    /**
     * TesseraQ's reconstruction, block by block: the loss of round-to-nearest on the initial grid and
     * after training, the reduction, seconds, whether it was resumed; and a chart of each block's mean
     * training loss per round: {@code reconstruction(tq).chart()}.
     */
    public static Comparison reconstruction(QuantizedModel q) {
        return Reconstruction.of(q);
    }

    /** One row per quantized model: method, grid, bits both ways, time: {@code summary(q, r)}. */
    public static Table summary(QuantizedModel... models) {
        return Summary.of(models);
    }

    // ---------------------------------------------------------------- evaluation

    /**
     * Perplexity on a text, by the data README's protocol (windows of the model's context, capped at
     * 2048); other windows: {@code perplexity(wikitext2()).window(512).first(40)}.
     */
    public static Task.Perplexity perplexity(Text text) {
        return new Task.Perplexity(text, 0, 0, 0);
    }

    /** ARC-Easy: acc and acc_norm (lm-evaluation-harness); a subset: {@code arcEasy().limit(200)}. */
    public static Task.Choice arcEasy() {
        return Task.Choice.of(MultipleChoice.Task.ARC_EASY);
    }
    /** ARC-Challenge: acc and acc_norm: {@code eval(m, arcChallenge())}. */
    public static Task.Choice arcChallenge() {
        return Task.Choice.of(MultipleChoice.Task.ARC_CHALLENGE);
    }
    /** PIQA: acc and acc_norm: {@code eval(m, piqa())}. */
    public static Task.Choice piqa() {
        return Task.Choice.of(MultipleChoice.Task.PIQA);
    }
    /** BoolQ: acc: {@code eval(m, boolq())}. */
    public static Task.Choice boolq() {
        return Task.Choice.of(MultipleChoice.Task.BOOLQ);
    }
    /** OpenBookQA: acc and acc_norm: {@code eval(m, openbookqa())}. */
    public static Task.Choice openbookqa() {
        return Task.Choice.of(MultipleChoice.Task.OPENBOOKQA);
    }
    /** HellaSwag: acc and acc_norm: {@code eval(m, hellaswag())}. */
    public static Task.Choice hellaswag() {
        return Task.Choice.of(MultipleChoice.Task.HELLASWAG);
    }
    /** Winogrande, partial scoring: acc: {@code eval(m, winogrande())}. */
    public static Task.Choice winogrande() {
        return Task.Choice.of(MultipleChoice.Task.WINOGRANDE);
    }
    /** LAMBADA (OpenAI): last-word accuracy and perplexity: {@code eval(m, lambada())}. */
    public static Task.Choice lambada() {
        return Task.Choice.of(MultipleChoice.Task.LAMBADA);
    }

    /** GSM8K 8-shot chain of thought, greedy; the paper's T 0.8, top-p 0.95: {@code gsm8k().limit(50).sampled()}. */
    public static Task.Gsm8k gsm8k() {
        return new Task.Gsm8k(io.lowbit.eval.Gsm8k.Options.defaults());
    }

    /** MMLU 5-shot on the last quarter of every subject's test split: {@code eval(m, mmlu().limit(5))}. */
    public static Task.Mmlu mmlu() {
        return new Task.Mmlu(0.25, 0);
    }

    /**
     * Spider dev execution accuracy as TaCQ measures it (zero-shot chat prompt, greedy, SQLite), on the
     * 15 databases {@code calibrateSpider} leaves out: {@code eval(q, spider().limit(100))}; all 972
     * executable questions: {@code spider().allDatabases()}.
     */
    public static Task.Spider spider() {
        return new Task.Spider(io.lowbit.eval.Spider.Options.defaults());
    }

    /**
     * Measures each task on the model; a row per metric. Results are cached per (weights, task settings):
     * {@code eval(m, perplexity(tinystories()), arcEasy())}.
     */
    public static Table eval(Model m, Task... tasks) {
        return Evaluate.table(m, tasks);
    }

    /**
     * {@link #eval(Model, Task...)} on the quantized model's dense weights, labelled with its method and grid:
     * {@code eval(q, perplexity(wikitext2()))}.
     */
    public static Table eval(QuantizedModel q, Task... tasks) {
        return Evaluate.table(q, tasks);
    }

    /**
     * A line chart of a sweep: {@code series} maps each line's name to its y values over the shared
     * {@code x} values, e.g. {@code lines("W3 perplexity", "outlier %", "ppl", List.of(0, 1, 5), Map.of("GPTQ", ys))}.
     */
    public static Chart lines(
            String title,
            String xTitle,
            String yTitle,
            List<? extends Number> x,
            java.util.Map<String, ? extends List<? extends Number>> series) {
        return Chart.lines(title, xTitle, yTitle, x, series);
    }

    /**
     * A grouped bar chart of a table's numeric columns from {@code firstMetric} on, a bar per row:
     * {@code bars("W3", compare(List.of(m, q), arcEasy()).table(), 2)}.
     */
    public static Chart bars(String title, Table t, int firstMetric) {
        return Chart.groupedBars(title, t, firstMetric);
    }

    /**
     * The task's first metric against average bits, a line per method (kept weights make their own line):
     * {@code pareto(List.of(m, q, r), perplexity(tinystories()))}.
     */
    public static Chart pareto(List<?> models, Task task) {
        return Comparison.pareto(models, task);
    }

    /**
     * A sweep's chart: its metric against average bits, a line per score rule:
     * {@code pareto(sweep(m, cal, task, List.of(0.0, 0.35, 1.0), List.of(2, 3), TACQ, MSG))}.
     */
    public static Chart pareto(Sweep sweep) {
        return sweep.chart();
    }

    // ---------------------------------------------------------------- TaCQ (task-circuit quantization)

    /** |W|·|G|·|Q_ref(W) − W|: the paper's score, and the default. */
    public static final Score TACQ = Score.TACQ;
    /** |G|·|Q_ref(W) − W|. */
    public static final Score QAL = Score.QAL;
    /** |W|·|G|. */
    public static final Score MSG = Score.MSG;
    /** |W| (an ablation baseline). */
    public static final Score WEIGHT = Score.WEIGHT;
    /** Σ|g| (an ablation baseline). */
    public static final Score GRADIENT = Score.GRADIENT;
    /** Σg², the Fisher diagonal (an ablation baseline). */
    public static final Score FISHER = Score.FISHER;
    /** |Σg|, the signed sum (an ablation baseline). */
    public static final Score SIGNED_GRADIENT = Score.SIGNED_GRADIENT;
    /** SpQR's Hessian-based sensitivity (an ablation baseline). */
    public static final Score HESSIAN = Score.HESSIAN;

    /**
     * GSM8K calibration as TaCQ builds it (arXiv 2504.07389; The-Inscrutable-X/TACQ, datasets_directory/GSM8k):
     * whole train examples (8 shuffled CoT exemplars, the question, its full solution, " The answer is n.")
     * up to {@code sequences} × {@code length} tokens, seeded: {@code calibrateGsm8k(m, 128, 2048, 0)}.
     */
    public static Calibration calibrateGsm8k(Model m, int sequences, int length, long seed) {
        return Calibrations.gsm8k(m, sequences, length, seed);
    }

    /**
     * MMLU calibration: the subject's 5-shot dev prompt, a question from the first 75 % of its test
     * split and the gold letter, over a group ("all", "STEM", "humanities", "social sciences"):
     * {@code calibrateMmlu(m, "STEM", 128, 2048, 0)}.
     */
    public static Calibration calibrateMmlu(Model m, String group, int sequences, int length, long seed) {
        return Calibrations.mmlu(m, group, sequences, length, seed);
    }

    /**
     * Spider calibration as TaCQ builds it: zero-shot prompts (schema and question, no gold SQL) of the
     * 5 dev databases kept out of {@code spider()}, up to {@code sequences} × {@code length} tokens,
     * seeded: {@code calibrateSpider(m, 128, 2048, 0)}.
     */
    public static Calibration calibrateSpider(Model m, int sequences, int length, long seed) {
        return Calibrations.spider(m, sequences, length, seed);
    }

    /**
     * Saliency of every weight for the task the calibration set stands for. Gradients (Σ_s|∂L_s/∂W|,
     * float32, one sequence at a time) and Q_ref (unmasked GPTQ on {@code grid}, which for TaCQ is
     * per-row asymmetric with the MSE search) are computed once per model and calibration set and
     * reused by every later call: {@code saliency(m, cal, TACQ, bits(3).mse())}.
     */
    public static Scores saliency(Model m, Calibration cal, Score rule, Grid grid) {
        return Scores.of(m, cal, rule, grid);
    }

    /**
     * {@link #saliency(Model, Calibration, Score, Grid)} with the TaCQ score:
     * {@code saliency(m, cal, bits(3).mse())}.
     */
    public static Scores saliency(Model m, Calibration cal, Grid grid) {
        return saliency(m, cal, TACQ, grid);
    }

    /**
     * The top {@code percent} % of weights by score over the whole model, as TaCQ does:
     * {@code keep(s, 0.35)} keeps 0.35 %.
     */
    public static Kept keep(Scores s, double percent) {
        return keep(s, percent, KeepScope.GLOBAL);
    }

    /**
     * {@link #keep(Scores, double)} per matrix or per row instead of over the whole model:
     * {@code keep(s, 1.0, KeepScope.PER_ROW)}.
     */
    public static Kept keep(Scores s, double percent, KeepScope scope) {
        return Kept.of(s, percent, scope);
    }

    /** Quantizes all but the kept weights (masked GPTQ: kept weights stay in 16 bits and take no rounding error). */
    public static QuantizedModel quantize(Model m, Grid grid, Method method, Calibration cal, Kept kept) {
        return quantize(m, grid, method, cal, kept.mask());
    }

    /**
     * TaCQ in one call: TaCQ scores on {@code cal} (Q_ref on {@code grid}), keep the top {@code percent} %
     * over the whole model, masked GPTQ on the same calibration set and grid:
     * {@code tacq(m, bits(3).mse(), calibrateGsm8k(m, 128, 2048, 0), 0.35)}.
     */
    public static QuantizedModel tacq(Model m, Grid grid, Calibration cal, double percent) {
        return Tacq.tacq(m, grid, cal, percent, progress());
    }

    /**
     * Budgets × bit widths × score rules in one call: for each, keep the top p % (globally), masked
     * GPTQ on the MSE grid, and the task's first metric. Gradients and Q_ref are computed once and
     * reused; a budget of 0 is plain GPTQ; no rule is TACQ:
     * {@code sweep(m, cal, task, List.of(0.0, 0.35, 1.0), List.of(2, 3), TACQ, MSG)}.
     */
    public static Sweep sweep(
            Model m, Calibration cal, Task task, List<Double> percents, List<Integer> bits, Score... rules) {
        return Sweep.run(m, cal, task, percents, bits, rules);
    }

    /** Frees what TaCQ and eval keep between calls (gradients, Q_ref, cached results): {@code clearCaches()}. */
    public static void clearCaches() {
        Caches.clear();
    }

    /**
     * One table, a row per model (its average bits, a column per task metric), and a grouped bar
     * chart of the metrics. Give models as Model or QuantizedModel:
     * {@code compare(List.of(m, q), perplexity(tinystories()))}.
     */
    public static Comparison compare(List<?> models, Task... tasks) {
        return Comparison.of(models, tasks);
    }
}
