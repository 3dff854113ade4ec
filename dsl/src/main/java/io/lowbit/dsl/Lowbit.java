package io.lowbit.dsl;

import io.lowbit.data.Calibration;
import io.lowbit.data.DataFiles;
import io.lowbit.eval.MultipleChoice;
import io.lowbit.model.Generation;
import io.lowbit.model.Model;
import io.lowbit.model.Models;
import io.lowbit.model.Progress;
import io.lowbit.quant.Awq;
import io.lowbit.quant.Gptq;
import io.lowbit.quant.Grid;
import io.lowbit.quant.Mask;
import io.lowbit.quant.Method;
import io.lowbit.quant.Rtn;
import io.lowbit.quant.Tesseraq;
import io.lowbit.quant.Quantize;
import io.lowbit.quant.Saliency;
import io.lowbit.quant.Saliency.Score;
import io.lowbit.quant.QuantizedModel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Supplier;

/**
 * The DSL's verbs, for {@code import static io.lowbit.dsl.Lowbit.*}:
 *
 * <pre>{@code
 * var m = load("data/models/stories260K");
 * eval(m, perplexity(tinystories()));
 * }</pre>
 */
public final class Lowbit {
  private Lowbit() {}

  private static volatile Supplier<Progress> progress = () -> new ConsoleProgress(System.err);

  /** The notebook kernel installs its own progress display here. */
  public static void setProgress(Supplier<Progress> p) {
    progress = p;
  }

  static Progress progress() {
    return progress.get();
  }

  // ---------------------------------------------------------------- models

  /** A Hugging Face folder, a llama2.c .bin (or its folder), or "random:&lt;preset&gt;", on the default device. */
  public static Model load(String spec) {
    return Models.load(spec);
  }

  /** {@link #load(String)} with options: {@code load("stories260K", Models.Options.defaults().device(Device.cpu()))}. */
  public static Model load(String spec, Models.Options options) {
    return Models.load(spec, options);
  }

  /**
   * Continues {@code prompt} with up to {@code maxNewTokens} tokens, greedily (the same text every
   * time); the result prints as the prompt followed by the continuation.
   */
  public static Generation.Completion generate(Model m, String prompt, int maxNewTokens) {
    return Generation.generate(m, prompt, Generation.Options.greedy(maxNewTokens));
  }

  /** {@link #generate(Model, String, int)} with sampling: temperature, top-p and a seed. */
  public static Generation.Completion generate(Model m, String prompt, int maxNewTokens, double temperature,
                                               double topP, long seed) {
    return Generation.generate(m, prompt, Generation.Options.greedy(maxNewTokens).withSampling(temperature, topP, seed));
  }

  // ---------------------------------------------------------------- texts

  /** A named text: its name and contents. */
  public record Text(String name, String contents) {
    @Override
    public String toString() {
      return "Text[" + name + ", " + contents.length() + " chars]";
    }
  }

  /** The TinyStories validation stories shipped in data/text. */
  public static Text tinystories() {
    return file("text/tinystories_val.txt", "tinystories-val");
  }

  /** An excerpt of the TinyStories training stories shipped in data/text: calibrate on this, measure on {@link #tinystories()}. */
  public static Text tinystoriesTrain() {
    return file("text/tinystories_train_excerpt.txt", "tinystories-train");
  }

  /** WikiText-2 raw test split (from the data folder; see data/README.md). */
  public static Text wikitext2() {
    return file("text/wikitext2_test_raw.txt", "wikitext2-test");
  }

  /** The C4 sample. */
  public static Text c4() {
    return file("text/c4_sample.txt", "c4-sample");
  }

  /** A text file by path, or by its path under a data folder. */
  public static Text text(String path) {
    Path p = Path.of(path);
    if (Files.isRegularFile(p)) return new Text(p.getFileName().toString(), DataFiles.readText(p));
    return file(path, Path.of(path).getFileName().toString());
  }

  private static Text file(String relative, String name) {
    return new Text(name, DataFiles.readText(DataFiles.find(relative)));
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

  /** A per-row asymmetric min/max grid of {@code n} bits; {@code bits(3).groups(128).mse()} for more. */
  public static Grid bits(int n) {
    return Grid.bits(n);
  }

  /** The first {@code n} windows of the model's context (capped at 2048) of [BOS] + the text. */
  public static Calibration calibrate(Model m, Text text, int n) {
    return calibrate(m, text, n, Math.min(m.config().maxPositions(), 2048));
  }

  /** The first {@code n} windows of {@code length} tokens of [BOS] + the text. */
  public static Calibration calibrate(Model m, Text text, int n, int length) {
    return Calibration.firstWindows(text.name(), tokenizer(m), text.contents(), n, length);
  }

  /** n windows at random starts, seeded (GPTQ's sampling). */
  public static Calibration calibrateSampled(Model m, Text text, int n, int length, long seed) {
    return Calibration.sampledWindows(text.name(), tokenizer(m), text.contents(), n, length, seed);
  }

  private static io.lowbit.model.Tokenizer tokenizer(Model m) {
    if (m.tokenizer() == null) throw new IllegalArgumentException(m.name() + " has no tokenizer to cut text with");
    return m.tokenizer();
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
   * kept in 16 bits (RTN and GPTQ). The work runs on the default device: a model loaded into host
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
   * training loss per round.
   */
  public static Comparison reconstruction(QuantizedModel q) {
    List<io.lowbit.quant.Tesseraq.BlockLoss> bs = q.reconstruction();
    if (bs.isEmpty())
      throw new IllegalArgumentException(q.method().name() + " has no block reconstruction; quantize with TESSERAQ");
    List<List<Object>> rows = new ArrayList<>();
    java.util.Map<String, List<Double>> series = new java.util.LinkedHashMap<>();
    int rounds = 0;
    for (var b : bs) {
      rows.add(List.of(b.block(), b.nearestLoss(), b.finalLoss(), 100 * (1 - b.finalLoss() / b.nearestLoss()), b.seconds(),
          b.resumed() ? "yes" : "no"));
      if (!b.roundLoss().isEmpty()) series.put("block " + b.block(), b.roundLoss());
      rounds = Math.max(rounds, b.roundLoss().size());
    }
    Table t = Table.of("TesseraQ reconstruction, " + q.grid(), List.of("block", "loss (nearest)", "loss (TesseraQ)", "reduction %",
        "seconds", "resumed"), rows);
    List<Integer> x = new ArrayList<>();
    for (int r = 1; r <= rounds; r++) x.add(r);
    final int n = rounds;
    series.values().removeIf(l -> l.size() != n);
    return new Comparison(t, Chart.lines("block loss per PAR round", "round", "mean training loss", x, series));
  }

  /** One row per quantized model: method, grid, bits both ways, time. */
  public static Table summary(QuantizedModel... models) {
    List<List<Object>> rows = new ArrayList<>();
    for (QuantizedModel q : models)
      rows.add(List.of(q.model().name(), q.method().name(), q.grid().toString(), q.paperBits(), q.storageBits(), q.seconds()));
    return Table.of("quantized", List.of("model", "method", "grid", "bits (papers)", "bits (storage)", "seconds"), rows);
  }

  // ---------------------------------------------------------------- evaluation

  /**
   * Perplexity on a text, by the data README's protocol (windows of the model's context, capped at
   * 2048); {@code .window(512)} and {@code .first(40)} change the windows.
   */
  public static Task.Perplexity perplexity(Text text) {
    return new Task.Perplexity(text, 0, 0, 0);
  }

  /** ARC-Easy: acc and acc_norm (lm-evaluation-harness); {@code .limit(200)} for a subset. */
  public static Task.Choice arcEasy() { return choice(MultipleChoice.Task.ARC_EASY); }
  /** ARC-Challenge: acc and acc_norm. */
  public static Task.Choice arcChallenge() { return choice(MultipleChoice.Task.ARC_CHALLENGE); }
  /** PIQA: acc and acc_norm. */
  public static Task.Choice piqa() { return choice(MultipleChoice.Task.PIQA); }
  /** BoolQ: acc. */
  public static Task.Choice boolq() { return choice(MultipleChoice.Task.BOOLQ); }
  /** OpenBookQA: acc and acc_norm. */
  public static Task.Choice openbookqa() { return choice(MultipleChoice.Task.OPENBOOKQA); }
  /** HellaSwag: acc and acc_norm. */
  public static Task.Choice hellaswag() { return choice(MultipleChoice.Task.HELLASWAG); }
  /** Winogrande, partial scoring: acc. */
  public static Task.Choice winogrande() { return choice(MultipleChoice.Task.WINOGRANDE); }
  /** LAMBADA (OpenAI): last-word accuracy and perplexity. */
  public static Task.Choice lambada() { return choice(MultipleChoice.Task.LAMBADA); }

  private static Task.Choice choice(MultipleChoice.Task t) {
    return new Task.Choice(t, 0, 1234);
  }

  /** GSM8K 8-shot chain of thought (greedy; {@code .sampled()} for the paper's T 0.8, top-p 0.95). */
  public static Task.Gsm8k gsm8k() {
    return new Task.Gsm8k(io.lowbit.eval.Gsm8k.Options.defaults());
  }

  /** MMLU 5-shot on the last quarter of every subject's test split. */
  public static Task.Mmlu mmlu() {
    return new Task.Mmlu(0.25, 0);
  }

  /** Measures each task on the model; a row per metric. Results are cached per (weights, task settings). */
  public static Table eval(Model m, Task... tasks) {
    return eval(m, m.name(), tasks);
  }

  /**
   * {@link #eval(Model, Task...)} on the quantized model's dense weights, labelled with its method,
   * options and grid; cached per quantized model (two sets of options never share a result).
   */
  public static Table eval(QuantizedModel q, Task... tasks) {
    String kept = q.kept() == 0 ? "" : String.format(java.util.Locale.ROOT, ", %.2f%% kept", 100.0 * q.kept() / q.weights());
    return eval(q.model(), q.fingerprint(), q.model().name() + " " + q.label() + kept, tasks);
  }

  private static Table eval(Model m, String label, Task... tasks) {
    return eval(m, m.fingerprint(), label, tasks);
  }

  /** {@code fingerprint}: one pass over the weights, whatever the number of tasks. */
  private static Table eval(Model m, String fingerprint, String label, Task... tasks) {
    List<List<Object>> rows = new ArrayList<>();
    for (Task t : tasks) rows.addAll(Evaluate.rows(m, fingerprint, label, t, progress()));
    return Table.of("eval", Evaluate.COLUMNS, rows);
  }

  /**
   * A line chart of a sweep: {@code series} maps each line's name to its y values over the shared
   * {@code x} values, e.g. {@code lines("W3 perplexity", "outlier %", "ppl", List.of(0, 1, 5), Map.of("GPTQ", ys))}.
   */
  public static Chart lines(String title, String xTitle, String yTitle, List<? extends Number> x,
                            java.util.Map<String, ? extends List<? extends Number>> series) {
    return Chart.lines(title, xTitle, yTitle, x, series);
  }

  /** A grouped bar chart of a table's numeric columns from {@code firstMetric} on, a bar per row. */
  public static Chart bars(String title, Table t, int firstMetric) {
    return Chart.groupedBars(title, t, firstMetric);
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

  /** Where the top scores are taken: over the whole model (the paper), per matrix, or per row. */
  public enum KeepScope { GLOBAL, PER_MATRIX, PER_ROW }

  /**
   * GSM8K calibration (tacq.md §1.3): whole train examples (8 shuffled CoT exemplars, the question,
   * its full solution, " The answer is n.") up to {@code sequences} × {@code length} tokens, seeded.
   */
  public static Calibration calibrateGsm8k(Model m, int sequences, int length, long seed) {
    return io.lowbit.eval.TaskCalibration.gsm8k(tokenizer(m), (long) sequences * length, length, seed);
  }

  /**
   * MMLU calibration: the subject's 5-shot dev prompt, a question from the first 75 % of its test
   * split and the gold letter, over a group ("all", "STEM", "humanities", "social sciences").
   */
  public static Calibration calibrateMmlu(Model m, String group, int sequences, int length, long seed) {
    return io.lowbit.eval.TaskCalibration.mmlu(tokenizer(m), group, (long) sequences * length, length, seed);
  }

  /** Scores of every weight of every quantized linear under one rule; the expensive parts are cached. */
  public record Scores(Model model, Calibration calibration, Score rule, Grid grid, Saliency saliency) {
    @Override
    public String toString() {
      return "Scores[" + rule + " of " + model.name() + " on " + calibration.name() + ", Q_ref at " + grid + "]";
    }
  }

  /**
   * Saliency of every weight for the task the calibration set stands for. Gradients (Σ_s|∂L_s/∂W|,
   * float32, one sequence at a time) and Q_ref (unmasked GPTQ on {@code grid}, which for TaCQ is
   * per-row asymmetric with the MSE search: {@code bits(3).mse()}) are computed once per model and
   * calibration set and reused by every later call.
   */
  public static Scores saliency(Model m, Calibration cal, Score rule, Grid grid) {
    return new Scores(m, cal, rule, grid, Tacq.saliency(m, cal, rule, grid, progress()));
  }

  /** {@link #saliency(Model, Calibration, Score, Grid)} with the TaCQ score. */
  public static Scores saliency(Model m, Calibration cal, Grid grid) {
    return saliency(m, cal, TACQ, grid);
  }

  /** A mask of kept weights with where they are: a table per layer and matrix type, a chart, heat maps. */
  public record Kept(Mask mask, double percent, KeepScope scope, Scores from, Table table) {
    /** Kept weights per layer and matrix type, as bars. */
    public Chart chart() {
      Table perLayer = Table.of(table.title(), table.columns().subList(0, table.columns().size() - 1),
          table.rows().subList(0, table.rows().size() - 1).stream()
              .map(r -> r.subList(0, r.size() - 1)).toList());
      return Chart.groupedBars("kept weights per layer (" + Tacq.percent(percent) + ", " + from.rule() + ")", perLayer, 1);
    }

    /** Where one matrix's kept weights are: counts over a grid of at most 48 × 48 blocks. */
    public Chart heatmap(String linear) {
      io.lowbit.torch.Tensor t = mask.of(linear);
      if (t == null) throw new IllegalArgumentException("no mask for " + linear + "; linears: " + from.saliency().linears());
      long rows = t.size(0), cols = t.size(1);
      int br = (int) Math.min(48, rows), bc = (int) Math.min(48, cols);
      long[][] counts = new long[br][bc];
      long[] flat = t.to(io.lowbit.torch.DType.I64).toLongArray();
      for (long r = 0; r < rows; r++)
        for (long c = 0; c < cols; c++)
          if (flat[(int) (r * cols + c)] != 0) counts[(int) (r * br / rows)][(int) (c * bc / cols)]++;
      return Chart.heatmap(linear + ": kept weights", "input column block", "output row block", counts);
    }

    @Override
    public String toString() {
      return "Kept[" + mask.count() + " weights, " + Tacq.percent(percent) + " " + scope + " by " + from.rule() + "]\n" + table;
    }
  }

  /** The top {@code percent} % of weights by score over the whole model (0.35 keeps 0.35 %), as TaCQ does. */
  public static Kept keep(Scores s, double percent) {
    return keep(s, percent, KeepScope.GLOBAL);
  }

  /** {@link #keep(Scores, double)} per matrix or per row instead of over the whole model. */
  public static Kept keep(Scores s, double percent, KeepScope scope) {
    Mask mask = Tacq.keep(s.saliency(), s.rule(), percent, scope);
    return new Kept(mask, percent, scope, s, Tacq.keptTable(mask, s.saliency().linears()));
  }

  /** Quantizes all but the kept weights (masked GPTQ: kept weights stay in 16 bits and take no rounding error). */
  public static QuantizedModel quantize(Model m, Grid grid, Method method, Calibration cal, Kept kept) {
    return quantize(m, grid, method, cal, kept.mask());
  }

  /**
   * TaCQ in one call: TaCQ scores on {@code cal} (Q_ref on {@code grid}), keep the top {@code percent} %
   * over the whole model, masked GPTQ on the same calibration set and grid.
   */
  public static QuantizedModel tacq(Model m, Grid grid, Calibration cal, double percent) {
    return Tacq.tacq(m, grid, cal, percent, progress());
  }

  /** A sweep's table (a row per rule, budget and bit width) and its chart (the metric against average bits). */
  public record Sweep(Table table, Chart chart) {
    @Override
    public String toString() {
      return table.toString();
    }
  }

  /**
   * Budgets × bit widths × score rules in one call: for each, keep the top p % (globally), masked
   * GPTQ on the MSE grid, and the task's first metric. Gradients and Q_ref are computed once and
   * reused; a budget of 0 is plain GPTQ.
   */
  public static Sweep sweep(Model m, Calibration cal, Task task, List<Double> percents, List<Integer> bits, Score... rules) {
    if (rules.length == 0) rules = new Score[] {TACQ};
    List<List<Object>> rows = new ArrayList<>();
    java.util.Map<String, List<Double>> series = new java.util.LinkedHashMap<>();
    List<Double> x = new ArrayList<>();
    String metric = null;
    for (Score rule : rules) {
      List<Double> ys = new ArrayList<>();
      for (int b : bits) {
        Grid grid = Grid.bits(b).mse();
        for (double p : percents) {
          QuantizedModel q = p == 0 ? Tacq.reference(m, cal, grid, progress())
              : quantize(m, grid, GPTQ, cal, keep(saliency(m, cal, rule, grid), p));
          try {
            List<Object> r = eval(q, task).rows().get(0);
            metric = String.valueOf(r.get(2));
            double value = ((Number) r.get(3)).doubleValue();
            rows.add(List.of(rule.name(), p, b, q.paperBits(), q.storageBits(), value));
            if (series.isEmpty()) x.add(q.paperBits());
            ys.add(value);
          } finally {
            if (p != 0) q.close(); // Q_ref stays cached
          }
        }
      }
      series.put(rule.name(), ys);
    }
    Table t = Table.of("sweep", List.of("score", "kept %", "bits", "bits (papers)", "bits (storage)", String.valueOf(metric)), rows);
    return new Sweep(t, Chart.lines(metric + " against average bits", "average bits (papers)", String.valueOf(metric), x, series));
  }

  /** Frees what TaCQ and eval keep between calls (gradients, Q_ref, cached results). */
  public static void clearCaches() {
    Tacq.clear();
    Evaluate.clearCache();
  }

  /** A comparison: the table, and a grouped bar chart of its metrics. */
  public record Comparison(Table table, Chart chart) {
    @Override
    public String toString() {
      return table.toString();
    }
  }

  /**
   * One table, a row per model (its average bits, a column per task metric), and a grouped bar
   * chart of the metrics. Give models as Model or QuantizedModel.
   */
  public static Comparison compare(List<?> models, Task... tasks) {
    Table t = compareTable(models, tasks);
    return new Comparison(t, Chart.groupedBars("compare", t, 2));
  }

  private static Table compareTable(List<?> models, Task... tasks) {
    List<String> columns = new ArrayList<>(List.of("model", "bits"));
    List<List<Object>> rows = new ArrayList<>();
    for (Object o : models) {
      Table t = switch (o) {
        case QuantizedModel q -> eval(q, tasks);
        case Model m -> eval(m, tasks);
        default -> throw new IllegalArgumentException("compare takes models, not " + o.getClass().getSimpleName());
      };
      List<Object> row = new ArrayList<>();
      row.add(t.rows().isEmpty() ? o.toString() : t.rows().get(0).get(0));
      row.add(o instanceof QuantizedModel q ? q.paperBits() : (double) (((Model) o).dtype().bytes * 8));
      for (List<Object> r : t.rows()) {
        String col = r.get(1) + " " + r.get(2);
        if (rows.isEmpty()) columns.add(col);
        row.add(r.get(3));
      }
      rows.add(row);
    }
    return Table.of("compare", columns, rows);
  }
}
