package io.lowbit.eval;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import io.lowbit.data.DataFiles;
import io.lowbit.model.Generation;
import io.lowbit.model.Interrupts;
import io.lowbit.model.Model;
import io.lowbit.model.Progress;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Locale;
import java.util.Random;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * GSM8K 8-shot chain of thought as TaCQ evaluates it (arXiv 2504.07389; The-Inscrutable-X/TACQ
 * datasets_directory/GSM8k): the 8 standard exemplars of Wei et al. (arXiv 2201.11903, Table 20),
 * reshuffled for every question with a seeded generator, "Q: …\nA: … The answer is n.\n\n", the
 * prompt ending "Q: {question}\nA:"; the answer extracted after the first "the answer is" and
 * compared as a string with the number after "#### ".
 */
public final class Gsm8k {
    private Gsm8k() {}

    /** The chain-of-thought exemplars (question, reasoning, answer) of Wei et al. 2022, Table 20. */
    static final String[][] EXEMPLARS = {
        {
            "There are 15 trees in the grove. Grove workers will plant trees in the grove today. After they are done, there will be 21 trees. How many trees did the grove workers plant today?",
            "There are 15 trees originally. Then there were 21 trees after some more were planted. So there must have been 21 - 15 = 6.",
            "6"
        },
        {
            "If there are 3 cars in the parking lot and 2 more cars arrive, how many cars are in the parking lot?",
            "There are originally 3 cars. 2 more cars arrive. 3 + 2 = 5.",
            "5"
        },
        {
            "Leah had 32 chocolates and her sister had 42. If they ate 35, how many pieces do they have left in total?",
            "Originally, Leah had 32 chocolates. Her sister had 42. So in total they had 32 + 42 = 74. After eating 35, they had 74 - 35 = 39.",
            "39"
        },
        {
            "Jason had 20 lollipops. He gave Denny some lollipops. Now Jason has 12 lollipops. How many lollipops did Jason give to Denny?",
            "Jason started with 20 lollipops. Then he had 12 after giving some to Denny. So he gave Denny 20 - 12 = 8.",
            "8"
        },
        {
            "Shawn has five toys. For Christmas, he got two toys each from his mom and dad. How many toys does he have now?",
            "Shawn started with 5 toys. If he got 2 toys each from his mom and dad, then that is 4 more toys. 5 + 4 = 9.",
            "9"
        },
        {
            "There were nine computers in the server room. Five more computers were installed each day, from monday to thursday. How many computers are now in the server room?",
            "There were originally 9 computers. For each of 4 days, 5 more computers were added. So 5 * 4 = 20 computers were added. 9 + 20 is 29.",
            "29"
        },
        {
            "Michael had 58 golf balls. On tuesday, he lost 23 golf balls. On wednesday, he lost 2 more. How many golf balls did he have at the end of wednesday?",
            "Michael started with 58 golf balls. After losing 23 on tuesday, he had 58 - 23 = 35. After losing 2 more, he had 35 - 2 = 33 golf balls.",
            "33"
        },
        {
            "Olivia has $23. She bought five bagels for $3 each. How much money does she have left?",
            "Olivia had 23 dollars. 5 bagels for 3 dollars each will be 5 x 3 = 15 dollars. So she has 23 - 15 dollars left. 23 - 15 is 8.",
            "8"
        }
    };

    public record Question(String question, String answer) {
        /** The number after "#### ", commas removed. */
        public String gold() {
            int at = answer.lastIndexOf("#### ");
            return (at < 0 ? answer : answer.substring(at + 5)).strip().replace(",", "");
        }
    }

    /** Greedy by default; TaCQ's sampling (its GSM8K script's T 0.8, top-p 0.95) with {@link #sampled}. */
    public record Options(
            int limit, long seed, int maxNewTokens, String stop, double temperature, double topP, int batch) {
        public static Options defaults() {
            return new Options(0, 1234, 256, "\nQ:", 0, 1, 64);
        }

        public Options limit(int n) {
            return new Options(n, seed, maxNewTokens, stop, temperature, topP, batch);
        }

        public Options sampled() {
            return new Options(limit, seed, maxNewTokens, stop, 0.8, 0.95, batch);
        }
    }

    /** Every question's prompt, completion, extracted answer, gold and verdict. */
    public record Record(
            String question, String prompt, String completion, String extracted, String gold, boolean correct) {}

    public record Result(int n, double accuracy, List<Record> records, double seconds) {}

    public static List<Question> questions(String split) {
        List<Question> out = new ArrayList<>();
        try {
            for (String line :
                    Files.readAllLines(DataFiles.find("gsm8k/" + split + ".jsonl"), StandardCharsets.UTF_8)) {
                if (line.isBlank()) continue;
                JsonObject j = JsonParser.parseString(line).getAsJsonObject();
                out.add(new Question(
                        j.get("question").getAsString(), j.get("answer").getAsString()));
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return out;
    }

    /** The 8 exemplars in an order drawn from {@code random}, then the question. */
    public static String prompt(String question, Random random) {
        List<String[]> shots = new ArrayList<>(List.of(EXEMPLARS));
        Collections.shuffle(shots, random);
        StringBuilder sb = new StringBuilder();
        for (String[] e : shots)
            sb.append("Q: ")
                    .append(e[0])
                    .append("\nA: ")
                    .append(e[1])
                    .append(" The answer is ")
                    .append(e[2])
                    .append(".\n\n");
        return sb.append("Q: ").append(question).append("\nA:").toString();
    }

    private static final Pattern NUMBER = Pattern.compile("-?[0-9]+\\.?[0-9]*");

    /**
     * TaCQ's extraction (its script in datasets_directory/GSM8k): lowercase; the text after the first
     * "the answer is" (else all of it); commas removed; the first number after the phrase (else the
     * last number); one trailing "." stripped; "[invalid]" when there is none.
     */
    public static String extract(String completion) {
        String text = completion.toLowerCase(Locale.ROOT);
        int at = text.indexOf("the answer is");
        boolean phrase = at >= 0;
        if (phrase) text = text.substring(at + "the answer is".length());
        Matcher m = NUMBER.matcher(text.replace(",", ""));
        String found = null;
        while (m.find()) {
            found = m.group();
            if (phrase) break;
        }
        if (found == null) return "[invalid]";
        return found.endsWith(".") ? found.substring(0, found.length() - 1) : found;
    }

    public static Result run(Model m, Options o, Progress progress) {
        long t0 = System.nanoTime();
        List<Question> qs = questions("test");
        if (o.limit() > 0 && o.limit() < qs.size()) qs = qs.subList(0, o.limit());
        Random random = new Random(o.seed());
        List<String> prompts = new ArrayList<>();
        for (Question q : qs) prompts.add(prompt(q.question(), random));
        Generation.Options gen = Generation.Options.greedy(o.maxNewTokens()).withStop(o.stop());
        if (o.temperature() > 0) gen = gen.withSampling(o.temperature(), o.topP(), o.seed());
        int room = m.config().maxPositions() - o.maxNewTokens();
        List<Record> records = new ArrayList<>();
        int correct = 0;
        for (int i = 0; i < qs.size(); i += o.batch()) {
            Interrupts.check();
            List<String> batch = prompts.subList(i, Math.min(i + o.batch(), qs.size()));
            List<String> fitting = new ArrayList<>();
            for (String p : batch) fitting.add(fit(m, p, room));
            List<Generation.Completion> cs = Generation.generate(m, fitting, gen);
            for (int k = 0; k < cs.size(); k++) {
                Question q = qs.get(i + k);
                String extracted = extract(cs.get(k).text());
                boolean ok = extracted.equals(q.gold());
                if (ok) correct++;
                records.add(new Record(q.question(), batch.get(k), cs.get(k).text(), extracted, q.gold(), ok));
            }
            progress.update("GSM8K questions", records.size(), qs.size());
        }
        return new Result(qs.size(), (double) correct / qs.size(), records, (System.nanoTime() - t0) / 1e9);
    }

    /** A prompt longer than the model's context keeps its end (the question), as far as it fits. */
    private static String fit(Model m, String prompt, int room) {
        if (room <= 1)
            throw new IllegalArgumentException(
                    "the model's context of " + m.config().maxPositions() + " leaves no room for a prompt");
        String p = prompt;
        while (m.tokenizer().encode(p, true, false).length > room) {
            int cut = p.indexOf("\n\nQ: ");
            p = cut < 0 ? p.substring(p.length() / 4) : p.substring(cut + 2); // drop the first exemplar
        }
        return p;
    }
}
