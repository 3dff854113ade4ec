package io.lowbit.eval;

import io.lowbit.data.DataFiles;
import io.lowbit.model.Interrupts;
import io.lowbit.model.Model;
import io.lowbit.model.Progress;
import io.lowbit.model.Tokenizer;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * MMLU 5-shot as TaCQ evaluates it (arXiv 2504.07389; The-Inscrutable-X/TACQ datasets_directory/MMLU):
 * the subject's dev examples in Hendrycks' format (Hendrycks et al., arXiv 2009.03300),
 * by default the last 25 % of each subject's test split, prediction = the argmax of the last
 * position's logits over " A", " B", " C", " D" (their log-likelihoods when a letter is not one
 * token); micro accuracy per subject group and per subject. The prompts of a subject share their
 * header and dev examples, which {@link AnswerScores} runs once per subject.
 */
public final class Mmlu {
    private Mmlu() {}

    static final String[] LETTERS = {"A", "B", "C", "D"};

    /** Hendrycks' subject categories: subject → group. */
    static final Map<String, String> GROUP = groups();

    private static Map<String, String> groups() {
        Map<String, String> g = new TreeMap<>();
        String stem =
                "abstract_algebra astronomy college_biology college_chemistry college_computer_science college_mathematics"
                        + " college_physics computer_security conceptual_physics electrical_engineering elementary_mathematics"
                        + " high_school_biology high_school_chemistry high_school_computer_science high_school_mathematics high_school_physics"
                        + " high_school_statistics machine_learning";
        String humanities =
                "formal_logic high_school_european_history high_school_us_history high_school_world_history international_law"
                        + " jurisprudence logical_fallacies moral_disputes moral_scenarios philosophy prehistory professional_law world_religions";
        String social =
                "econometrics high_school_geography high_school_government_and_politics high_school_macroeconomics"
                        + " high_school_microeconomics high_school_psychology human_sexuality professional_psychology public_relations"
                        + " security_studies sociology us_foreign_policy";
        String other =
                "anatomy business_ethics clinical_knowledge college_medicine global_facts human_aging management marketing"
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
        for (Question d : dev)
            sb.append(format(d)).append(' ').append(LETTERS[d.gold()]).append("\n\n");
        return sb.append(format(q)).toString();
    }

    private static String format(Question q) {
        StringBuilder sb = new StringBuilder(q.text());
        for (int j = 0; j < 4; j++)
            sb.append('\n').append(LETTERS[j]).append(". ").append(q.options().get(j));
        return sb.append("\nAnswer:").toString();
    }

    public static List<String> subjects() {
        try (var files = Files.list(DataFiles.find("mmlu/test"))) {
            return files.map(p -> p.getFileName().toString())
                    .filter(n -> n.endsWith("_test.csv"))
                    .map(n -> n.substring(0, n.length() - "_test.csv".length()))
                    .sorted()
                    .toList();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    public static List<Question> read(String subject, String split) {
        List<Question> out = new ArrayList<>();
        var file = DataFiles.find("mmlu/" + split + "/" + subject + "_" + split + ".csv");
        try {
            for (List<String> row : CsvFiles.parse(Files.readString(file, StandardCharsets.UTF_8))) {
                if (row.size() != 6)
                    throw new IllegalArgumentException(
                            file + ": a row of " + row.size() + " fields, expected 6: " + row);
                out.add(new Question(
                        subject,
                        row.get(0),
                        row.subList(1, 5),
                        "ABCD".indexOf(row.get(5).strip())));
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return out;
    }

    /** Accuracy overall, per group and per subject. */
    public record Result(
            int n, double accuracy, Map<String, double[]> groups, Map<String, double[]> subjects, double seconds) {}

    /** {@code fraction} 0.25: the last quarter of each subject's test split; 1: all of it. {@code limit} per subject (0: all). */
    public static Result run(Model m, double fraction, int limit, Progress progress) {
        long t0 = System.nanoTime();
        int[] letters = letterTokens(m);
        Map<String, double[]> perSubject = new LinkedHashMap<>(), perGroup = new TreeMap<>();
        List<String> subjects = subjects();
        int total = 0, hits = 0;
        // a helper thread reads and tokenizes the next subject while the model scores this one
        // (five encodings of a ~2,000-token prompt per question add up to seconds on a GPU run)
        try (ExecutorService helper = Executors.newSingleThreadExecutor()) {
            Future<Subject> next =
                    helper.submit(() -> Subject.of(m.tokenizer(), letters, subjects.get(0), fraction, limit));
            for (int si = 0; si < subjects.size(); si++) {
                Interrupts.check();
                Subject sub = await(next);
                if (si + 1 < subjects.size()) {
                    String following = subjects.get(si + 1);
                    next = helper.submit(() -> Subject.of(m.tokenizer(), letters, following, fraction, limit));
                }
                double[][] lp = AnswerScores.score(m, sub.requests());
                int ok = 0;
                for (int i = 0; i < lp.length; i++)
                    if (argmax(lp[i]) == sub.eval().get(i).gold()) ok++;
                int n = sub.eval().size();
                perSubject.put(sub.name(), new double[] {ok, n});
                double[] g = perGroup.computeIfAbsent(GROUP.getOrDefault(sub.name(), "other"), k -> new double[2]);
                g[0] += ok;
                g[1] += n;
                total += n;
                hits += ok;
                progress.update("MMLU subjects", si + 1, subjects.size());
            }
        }
        return new Result(total, (double) hits / total, perGroup, perSubject, (System.nanoTime() - t0) / 1e9);
    }

    /** One subject's questions to score and, per question, one request per letter. */
    record Subject(String name, List<Question> eval, List<List<LogLikelihood.Request>> requests) {
        static Subject of(Tokenizer tok, int[] letters, String subject, double fraction, int limit) {
            List<Question> dev = read(subject, "dev").subList(0, 5), test = read(subject, "test");
            List<Question> eval = test.subList((int) Math.floor((1 - fraction) * test.size()), test.size());
            if (limit > 0 && eval.size() > limit) eval = eval.subList(0, limit);
            return new Subject(subject, eval, Mmlu.requests(tok, letters, subject, dev, eval));
        }
    }

    private static <T> T await(Future<T> f) {
        try {
            return f.get();
        } catch (InterruptedException e) {
            throw new Interrupts.Cancelled();
        } catch (ExecutionException e) {
            if (e.getCause() instanceof RuntimeException r) throw r;
            if (e.getCause() instanceof Error r) throw r;
            throw new IllegalStateException(e.getCause());
        }
    }

    /** The tokens of " A" … " D" after "Answer:", or null when a letter is not one token. */
    static int[] letterTokens(Model m) {
        int[] ids = new int[4];
        for (int j = 0; j < 4; j++) {
            var r = LogLikelihood.encode(m.tokenizer(), "Answer:", " " + LETTERS[j]);
            if (r.continuation().length != 1) return null;
            ids[j] = r.continuation()[0];
        }
        return ids;
    }

    /**
     * Per question, the requests " A" … " D" after its prompt: the letter tokens after the prompt's
     * tokens when each letter is one token ({@code letters}), else as lm-evaluation-harness splits
     * encode(prompt + " A") (letters null).
     */
    static List<List<LogLikelihood.Request>> requests(
            Tokenizer tok, int[] letters, String subject, List<Question> dev, List<Question> eval) {
        List<List<LogLikelihood.Request>> out = new ArrayList<>();
        for (Question q : eval) {
            String prompt = prompt(subject, dev, q);
            int[] ctx = tok.encode(prompt, true, false);
            List<LogLikelihood.Request> four = new ArrayList<>();
            for (int j = 0; j < 4; j++)
                four.add(
                        letters != null
                                ? new LogLikelihood.Request(ctx, new int[] {letters[j]})
                                : LogLikelihood.encode(tok, prompt, ctx, " " + LETTERS[j]));
            out.add(four);
        }
        return out;
    }

    /** The index of the largest score (the first on ties). */
    static int argmax(double[] scores) {
        int best = 0;
        for (int j = 1; j < scores.length; j++) if (scores[j] > scores[best]) best = j;
        return best;
    }
}
