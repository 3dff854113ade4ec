package io.lowbit.eval;

import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import io.lowbit.data.DataFiles;
import io.lowbit.model.Model;
import io.lowbit.model.Progress;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;

/**
 * Multiple-choice tasks scored by log-likelihood, with lm-evaluation-harness's prompts and
 * metrics: acc (argmax of log p(choice | context)) and acc_norm (argmax of log p divided by the
 * choice's length in UTF-8 bytes). Winogrande uses partial scoring (one continuation after each
 * context option); LAMBADA reports last-word accuracy (greedy) and perplexity.
 */
public final class MultipleChoice {
    private MultipleChoice() {}

    /** One question: a context per choice (or one shared) and a continuation per choice (or one shared). */
    public record Item(List<String> contexts, List<String> continuations, int gold) {
        public int choices() {
            return Math.max(contexts.size(), continuations.size());
        }

        String context(int i) {
            return contexts.size() == 1 ? contexts.get(0) : contexts.get(i);
        }

        String continuation(int i) {
            return continuations.size() == 1 ? continuations.get(0) : continuations.get(i);
        }
    }

    public enum Task {
        ARC_EASY("arc_easy", "choice/arc_easy.jsonl"),
        ARC_CHALLENGE("arc_challenge", "choice/arc_challenge.jsonl"),
        PIQA("piqa", "choice/piqa.jsonl"),
        BOOLQ("boolq", "choice/boolq.jsonl"),
        OPENBOOKQA("openbookqa", "choice/openbook_qa.jsonl"),
        HELLASWAG("hellaswag", "choice/hellaswag_val_full.txt.bz2"),
        WINOGRANDE("winogrande", "choice/winogrande.jsonl"),
        LAMBADA("lambada_openai", "choice/lambada_openai.jsonl");

        public final String label;
        final String file;

        Task(String label, String file) {
            this.label = label;
            this.file = file;
        }
    }

    /** acc and acc_norm (NaN where the task has none), LAMBADA's perplexity (NaN elsewhere). */
    public record Result(Task task, int n, double acc, double accNorm, double perplexity, double seconds) {}

    /** The task's items, all or {@code limit} of them drawn with {@code seed} (0: all, in file order). */
    public static List<Item> items(Task t, int limit, long seed) {
        List<Item> all = t == Task.HELLASWAG ? hellaswag(DataFiles.find(t.file)) : jsonl(t, DataFiles.find(t.file));
        if (limit <= 0 || limit >= all.size()) return all;
        List<Item> shuffled = new ArrayList<>(all);
        Collections.shuffle(shuffled, new Random(seed));
        return shuffled.subList(0, limit);
    }

    private static List<Item> jsonl(Task t, Path file) {
        List<Item> out = new ArrayList<>();
        try {
            for (String line : Files.readAllLines(file, StandardCharsets.UTF_8)) {
                if (line.isBlank()) continue;
                JsonObject j = JsonParser.parseString(line).getAsJsonObject();
                out.add(
                        switch (t) {
                            case LAMBADA ->
                                new Item(
                                        List.of(j.get("context").getAsString()),
                                        List.of(" "
                                                + j.get("continuation")
                                                        .getAsString()
                                                        .strip()),
                                        0);
                            case WINOGRANDE ->
                                new Item(
                                        strings(j.getAsJsonArray("context_options")),
                                        List.of(" "
                                                + j.get("continuation")
                                                        .getAsString()
                                                        .strip()),
                                        j.get("gold").getAsInt());
                            default ->
                                new Item(
                                        List.of(context(t, j.get("query").getAsString())),
                                        spaced(strings(j.getAsJsonArray("choices"))),
                                        j.get("gold").getAsInt());
                        });
            }
        } catch (IOException e) {
            throw new UncheckedIOException(file + ": " + e.getMessage(), e);
        } catch (RuntimeException e) {
            throw new IllegalArgumentException(
                    file + ": not the expected {query, choices, gold} lines (" + e.getMessage() + ")", e);
        }
        return out;
    }

    /** lm-evaluation-harness's contexts: "Question: …\nAnswer:" for ARC, PIQA and BoolQ; the stem alone for OpenBookQA. */
    static String context(Task t, String query) {
        return switch (t) {
            case ARC_EASY, ARC_CHALLENGE, BOOLQ -> query.stripTrailing() + "\nAnswer:";
            case PIQA -> query.endsWith("\n") ? query + "Answer:" : query + "\nAnswer:";
            default -> query;
        };
    }

    /** The 6-line layout: context, gold index, four endings. */
    private static List<Item> hellaswag(Path file) {
        List<Item> out = new ArrayList<>();
        try (BufferedReader r = new BufferedReader(new InputStreamReader(
                new org.apache.commons.compress.compressors.bzip2.BZip2CompressorInputStream(
                        Files.newInputStream(file)),
                StandardCharsets.UTF_8))) {
            String ctx;
            while ((ctx = r.readLine()) != null) {
                int gold = Integer.parseInt(r.readLine().strip());
                List<String> endings = new ArrayList<>();
                for (int i = 0; i < 4; i++) endings.add(" " + r.readLine().strip());
                out.add(new Item(List.of(ctx), endings, gold));
            }
        } catch (IOException e) {
            throw new UncheckedIOException(file + ": " + e.getMessage(), e);
        }
        return out;
    }

    private static List<String> strings(JsonArray a) {
        List<String> l = new ArrayList<>();
        a.forEach(e -> l.add(e.getAsString()));
        return l;
    }

    private static List<String> spaced(List<String> l) {
        return l.stream().map(s -> " " + s).toList();
    }

    /** {argmax of log p, argmax of log p / bytes}: the choices acc and acc_norm make (first on ties). */
    static int[] pick(double[] ll, int[] bytes) {
        int best = 0, bestNorm = 0;
        for (int c = 1; c < ll.length; c++) {
            if (ll[c] > ll[best]) best = c;
            if (ll[c] / bytes[c] > ll[bestNorm] / bytes[bestNorm]) bestNorm = c;
        }
        return new int[] {best, bestNorm};
    }

    public static Result run(Model m, Task t, int limit, long seed, Progress progress) {
        return score(m, t, items(t, limit, seed), progress);
    }

    /** Scores the given items. */
    public static Result score(Model m, Task t, List<Item> items, Progress progress) {
        long t0 = System.nanoTime();
        List<LogLikelihood.Request> reqs = new ArrayList<>();
        for (Item it : items)
            for (int c = 0; c < it.choices(); c++)
                reqs.add(LogLikelihood.encode(m.tokenizer(), it.context(c), it.continuation(c)));
        List<LogLikelihood.Score> scores = LogLikelihood.score(m, reqs, progress);
        int k = 0, hits = 0, hitsNorm = 0;
        double nll = 0;
        for (Item it : items) {
            double[] ll = new double[it.choices()];
            int[] bytes = new int[it.choices()];
            for (int c = 0; c < it.choices(); c++) {
                LogLikelihood.Score sc = scores.get(k++);
                ll[c] = sc.logLikelihood();
                bytes[c] = it.continuation(c).getBytes(StandardCharsets.UTF_8).length;
                if (t == Task.LAMBADA) {
                    if (sc.greedy()) hits++;
                    nll -= sc.logLikelihood();
                }
            }
            if (t != Task.LAMBADA) {
                int[] pick = pick(ll, bytes);
                if (pick[0] == it.gold()) hits++;
                if (pick[1] == it.gold()) hitsNorm++;
            }
        }
        int n = items.size();
        boolean hasNorm = t != Task.LAMBADA && t != Task.WINOGRANDE;
        double ppl = t == Task.LAMBADA ? Math.exp(nll / n) : Double.NaN; // per example, as lm-evaluation-harness
        return new Result(
                t,
                n,
                (double) hits / n,
                hasNorm ? (double) hitsNorm / n : Double.NaN,
                ppl,
                (System.nanoTime() - t0) / 1e9);
    }
}
