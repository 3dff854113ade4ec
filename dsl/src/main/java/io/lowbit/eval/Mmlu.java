package io.lowbit.eval;

import io.lowbit.data.DataFiles;
import io.lowbit.model.Interrupts;
import io.lowbit.model.Model;
import io.lowbit.model.Progress;
import io.lowbit.torch.DType;
import io.lowbit.torch.Scope;
import io.lowbit.torch.Tensor;
import io.lowbit.torch.Torch;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * MMLU 5-shot as TaCQ evaluates it (tacq.md §7.3): the subject's dev examples in Hendrycks' format,
 * by default the last 25 % of each subject's test split, prediction = the argmax of the last
 * position's logits over " A", " B", " C", " D" (their log-likelihoods when a letter is not one
 * token); micro accuracy per subject group and per subject.
 */
public final class Mmlu {
  private Mmlu() {}

  static final String[] LETTERS = {"A", "B", "C", "D"};

  /** Hendrycks' subject categories: subject → group. */
  static final Map<String, String> GROUP = groups();

  private static Map<String, String> groups() {
    Map<String, String> g = new TreeMap<>();
    String stem = "abstract_algebra astronomy college_biology college_chemistry college_computer_science college_mathematics"
        + " college_physics computer_security conceptual_physics electrical_engineering elementary_mathematics"
        + " high_school_biology high_school_chemistry high_school_computer_science high_school_mathematics high_school_physics"
        + " high_school_statistics machine_learning";
    String humanities = "formal_logic high_school_european_history high_school_us_history high_school_world_history international_law"
        + " jurisprudence logical_fallacies moral_disputes moral_scenarios philosophy prehistory professional_law world_religions";
    String social = "econometrics high_school_geography high_school_government_and_politics high_school_macroeconomics"
        + " high_school_microeconomics high_school_psychology human_sexuality professional_psychology public_relations"
        + " security_studies sociology us_foreign_policy";
    String other = "anatomy business_ethics clinical_knowledge college_medicine global_facts human_aging management marketing"
        + " medical_genetics miscellaneous nutrition professional_accounting professional_medicine virology";
    for (String s : stem.split(" ")) g.put(s, "STEM");
    for (String s : humanities.split(" ")) g.put(s, "humanities");
    for (String s : social.split(" ")) g.put(s, "social sciences");
    for (String s : other.split(" ")) g.put(s, "other");
    return g;
  }

  /** One question: the four options and the gold letter index. */
  public record Question(String subject, String text, List<String> options, int gold) {}

  /** The prompt of one subject: header, then k dev examples with answers, then the question ending "Answer:". */
  public static String prompt(String subject, List<Question> dev, Question q) {
    // Hendrycks' format_subject puts a space before every part, so two spaces follow "about"
    StringBuilder sb = new StringBuilder("The following are multiple choice questions (with answers) about ");
    for (String part : subject.split("_")) sb.append(' ').append(part);
    sb.append(".\n\n");
    for (Question d : dev) sb.append(format(d)).append(' ').append(LETTERS[d.gold()]).append("\n\n");
    return sb.append(format(q)).toString();
  }

  private static String format(Question q) {
    StringBuilder sb = new StringBuilder(q.text());
    for (int j = 0; j < 4; j++) sb.append('\n').append(LETTERS[j]).append(". ").append(q.options().get(j));
    return sb.append("\nAnswer:").toString();
  }

  public static List<String> subjects() {
    try (var files = Files.list(DataFiles.find("mmlu/test"))) {
      return files.map(p -> p.getFileName().toString()).filter(n -> n.endsWith("_test.csv"))
          .map(n -> n.substring(0, n.length() - "_test.csv".length())).sorted().toList();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  public static List<Question> read(String subject, String split) {
    List<Question> out = new ArrayList<>();
    var file = DataFiles.find("mmlu/" + split + "/" + subject + "_" + split + ".csv");
    try {
      for (List<String> row : CsvFiles.parse(Files.readString(file, StandardCharsets.UTF_8))) {
        if (row.size() != 6) throw new IllegalArgumentException(file + ": a row of " + row.size() + " fields, expected 6: " + row);
        out.add(new Question(subject, row.get(0), row.subList(1, 5), "ABCD".indexOf(row.get(5).strip())));
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return out;
  }

  /** Accuracy overall, per group and per subject. */
  public record Result(int n, double accuracy, Map<String, double[]> groups, Map<String, double[]> subjects, double seconds) {}

  /** {@code fraction} 0.25: the last quarter of each subject's test split; 1: all of it. {@code limit} per subject (0: all). */
  public static Result run(Model m, double fraction, int limit, Progress progress) {
    long t0 = System.nanoTime();
    int[] letterIds = new int[4];
    boolean single = true;
    for (int j = 0; j < 4; j++) {
      var r = LogLikelihood.encode(m.tokenizer(), "Answer:", " " + LETTERS[j]);
      single &= r.continuation().length == 1;
      letterIds[j] = r.continuation()[0];
    }
    Map<String, double[]> perSubject = new LinkedHashMap<>(), perGroup = new TreeMap<>();
    List<String> subjects = subjects();
    int total = 0, hits = 0;
    for (int si = 0; si < subjects.size(); si++) {
      Interrupts.check();
      String subject = subjects.get(si);
      List<Question> dev = read(subject, "dev").subList(0, 5), test = read(subject, "test");
      List<Question> eval = test.subList((int) Math.floor((1 - fraction) * test.size()), test.size());
      if (limit > 0 && eval.size() > limit) eval = eval.subList(0, limit);
      int[] pred = single ? byLetterLogits(m, subject, dev, eval, letterIds) : byLikelihood(m, subject, dev, eval);
      int ok = 0;
      for (int i = 0; i < eval.size(); i++) if (pred[i] == eval.get(i).gold()) ok++;
      perSubject.put(subject, new double[] {ok, eval.size()});
      double[] g = perGroup.computeIfAbsent(GROUP.getOrDefault(subject, "other"), k -> new double[2]);
      g[0] += ok;
      g[1] += eval.size();
      total += eval.size();
      hits += ok;
      progress.update("MMLU subjects", si + 1, subjects.size());
    }
    return new Result(total, (double) hits / total, perGroup, perSubject, (System.nanoTime() - t0) / 1e9);
  }

  /** The letters' logits at each prompt's last position; prompts batched, right-padded. */
  private static int[] byLetterLogits(Model m, String subject, List<Question> dev, List<Question> eval, int[] letters) {
    int[] pred = new int[eval.size()];
    int max = m.config().maxPositions();
    List<int[]> prompts = new ArrayList<>();
    for (Question q : eval) {
      int[] ids = m.tokenizer().encode(prompt(subject, dev, q), true, false);
      prompts.add(ids.length > max ? java.util.Arrays.copyOfRange(ids, ids.length - max, ids.length) : ids); // keep the question
    }
    try (var g = Torch.noGrad()) {
      for (int i = 0; i < prompts.size(); ) {
        int len = 0;
        int n = m.batchFor(prompts.get(i).length, m.device(), 16);
        n = Math.min(n, prompts.size() - i);
        for (int k = 0; k < n; k++) len = Math.max(len, prompts.get(i + k).length);
        long[] ids = new long[n * len], mask = new long[n * len];
        for (int k = 0; k < n; k++)
          for (int t = 0; t < prompts.get(i + k).length; t++) {
            ids[k * len + t] = prompts.get(i + k)[t];
            mask[k * len + t] = 1;
          }
        try (Scope s = Scope.open()) {
          Tensor logits = m.forward(Torch.tensor(ids, n, len).to(m.device()), Torch.tensor(mask, n, len).to(m.device()));
          for (int k = 0; k < n; k++) {
            double[] l = logits.select(0, k).select(0, prompts.get(i + k).length - 1).to(DType.F32).toDoubleArray();
            int best = 0;
            for (int j = 1; j < 4; j++) if (l[letters[j]] > l[letters[best]]) best = j;
            pred[i + k] = best;
          }
        }
        i += n;
      }
    }
    return pred;
  }

  private static int[] byLikelihood(Model m, String subject, List<Question> dev, List<Question> eval) {
    List<LogLikelihood.Request> reqs = new ArrayList<>();
    for (Question q : eval)
      for (String letter : LETTERS) reqs.add(LogLikelihood.encode(m.tokenizer(), prompt(subject, dev, q), " " + letter));
    List<LogLikelihood.Score> sc = LogLikelihood.score(m, reqs, Progress.NONE);
    int[] pred = new int[eval.size()];
    for (int i = 0; i < eval.size(); i++) {
      int best = 0;
      for (int j = 1; j < 4; j++) if (sc.get(4 * i + j).logLikelihood() > sc.get(4 * i + best).logLikelihood()) best = j;
      pred[i] = best;
    }
    return pred;
  }
}
