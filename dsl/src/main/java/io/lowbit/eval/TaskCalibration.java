package io.lowbit.eval;

import io.lowbit.data.Calibration;
import io.lowbit.model.Tokenizer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Random;

/**
 * Calibration sets made of whole task examples, as TaCQ calibrates (Xiao et al., arXiv 2504.07389,
 * App. D.5 and Table 9; the official code, github.com/The-Inscrutable-X/TACQ): the examples are
 * shuffled with the seed and taken in order until the next would pass the token budget (128 × 2048
 * in the paper); no packing, no padding.
 * An example longer than the model's context keeps its last {@code maxLength} tokens (its answer),
 * with BOS first.
 */
public final class TaskCalibration {
    private TaskCalibration() {}

    /**
     * GSM8K train: the 8 CoT exemplars in an order drawn from the seed, then "Q: question\nA:", a
     * space, the full reference solution (with its calculator annotations and "#### n"), and
     * " The answer is n.\n\n".
     */
    public static Calibration gsm8k(Tokenizer tok, long budget, int maxLength, long seed) {
        List<Gsm8k.Question> qs = new ArrayList<>(Gsm8k.questions("train"));
        Random r = new Random(seed);
        Collections.shuffle(qs, r);
        List<String> texts = new ArrayList<>();
        for (Gsm8k.Question q : qs) {
            String answer = q.answer()
                    .substring(q.answer().lastIndexOf("####") + 4)
                    .strip()
                    .replace(",", "");
            texts.add(Gsm8k.prompt(q.question(), r) + " " + q.answer() + " The answer is " + answer + ".\n\n");
            if (texts.size() > budget / 64) break; // enough candidates: every example is far longer than 64 tokens
        }
        return fill("gsm8k-train", tok, texts, budget, maxLength, seed);
    }

    /**
     * MMLU: the subject's 5-shot dev prompt, a question from the first 75 % of its test split,
     * "Answer:", a space and the gold letter. {@code group}: "all", "STEM", "humanities",
     * "social sciences" or "other".
     */
    public static Calibration mmlu(Tokenizer tok, String group, long budget, int maxLength, long seed) {
        List<String> texts = new ArrayList<>();
        for (String subject : Mmlu.subjects()) {
            if (!group.equals("all") && !group.equals(Mmlu.GROUP.get(subject))) continue;
            List<Mmlu.Question> dev = Mmlu.read(subject, "dev");
            List<Mmlu.Question> test = Mmlu.read(subject, "test");
            int first = (int) Math.floor(test.size() * 0.75);
            for (Mmlu.Question q : test.subList(0, first))
                texts.add(Mmlu.prompt(subject, dev, q) + " " + Mmlu.LETTERS[q.gold()]);
        }
        if (texts.isEmpty())
            throw new IllegalArgumentException(
                    "no MMLU subjects in the group '" + group + "' (all, STEM, humanities, social sciences, other)");
        Collections.shuffle(texts, new Random(seed));
        return fill("mmlu-" + group.replace(' ', '-'), tok, texts, budget, maxLength, seed);
    }

    /**
     * Spider: the zero-shot prompt of a question of one of {@link Spider#CALIBRATION_DATABASES} (the
     * chat template with the assistant's header when the tokenizer has one), without its gold SQL, as
     * TaCQ's calibration loader builds it (TACQ datasets_directory/Spider, there from the train split),
     * so the loss covers the prompt alone; no evaluated question or schema is among them.
     */
    public static Calibration spider(Tokenizer tok, long budget, int maxLength, long seed) {
        Map<String, Spider.Schema> schemas = Spider.schemas();
        List<String> texts = new ArrayList<>();
        for (Spider.Example e : Spider.examples())
            if (Spider.CALIBRATION_DATABASES.contains(e.db()))
                texts.add(Spider.prompt(tok, e.question(), schemas.get(e.db())));
        Collections.shuffle(texts, new Random(seed));
        String name = "spider-dev-" + Spider.CALIBRATION_DATABASES.size() + "-databases";
        return fill(name, tok, texts, budget, maxLength, seed);
    }

    /** Texts in the given order, tokenized with BOS, until the next would pass the budget. */
    static Calibration fill(String name, Tokenizer tok, List<String> texts, long budget, int maxLength, long seed) {
        List<int[]> seqs = new ArrayList<>();
        long used = 0;
        for (String t : texts) {
            int[] ids = tok.encode(t, true, false);
            if (ids.length > maxLength) { // keep BOS and the end, where the answer is
                int[] cut = Arrays.copyOfRange(ids, ids.length - maxLength, ids.length);
                cut[0] = ids[0];
                ids = cut;
            }
            if (used + ids.length > budget) break;
            seqs.add(ids);
            used += ids.length;
        }
        if (seqs.isEmpty())
            throw new IllegalArgumentException("a token budget of " + budget + " holds no " + name + " example");
        return Calibration.examples(name + " " + seqs.size() + " examples, " + used + " tokens, seed " + seed, seqs);
    }
}
