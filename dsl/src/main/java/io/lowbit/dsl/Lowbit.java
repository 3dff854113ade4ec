package io.lowbit.dsl;

import io.lowbit.data.DataFiles;
import io.lowbit.eval.Perplexity;
import io.lowbit.model.Model;
import io.lowbit.model.Models;
import io.lowbit.model.Progress;
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

  public static Model load(String spec, Models.Options options) {
    return Models.load(spec, options);
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

  // ---------------------------------------------------------------- evaluation

  /** Something {@link #eval} can measure on a model. */
  public sealed interface Task permits PerplexityTask {}

  /** Perplexity on a text, by the data README's protocol; window and batch 0 mean the defaults. */
  public record PerplexityTask(Text text, int window, int batch, int maxWindows) implements Task {
    /** Windows of {@code tokens} tokens instead of the model's context. */
    public PerplexityTask window(int tokens) {
      return new PerplexityTask(text, tokens, batch, maxWindows);
    }

    /** Only the first {@code n} windows (a quick look). */
    public PerplexityTask first(int n) {
      return new PerplexityTask(text, window, batch, n);
    }
  }

  public static PerplexityTask perplexity(Text text) {
    return new PerplexityTask(text, 0, 0, 0);
  }

  /** Measures each task on the model; one row per task. */
  public static Table eval(Model m, Task... tasks) {
    List<List<Object>> rows = new ArrayList<>();
    for (Task t : tasks) {
      switch (t) {
        case PerplexityTask p -> {
          Perplexity.Options defaults = Perplexity.Options.defaults(m);
          int window = p.window() > 0 ? p.window() : defaults.window();
          int batch = p.batch() > 0 ? p.batch() : Perplexity.Options.defaultBatch(m, window);
          Perplexity.Options o = new Perplexity.Options(window, batch, p.maxWindows());
          Perplexity.Result r = Perplexity.of(m, p.text().name(), p.text().contents(), o, progress());
          rows.add(List.of(m.name(), "perplexity " + r.text(), r.perplexity(), r.windows() + " × " + r.window(), r.seconds()));
        }
      }
    }
    return Table.of("eval", List.of("model", "task", "value", "windows", "seconds"), rows);
  }
}
