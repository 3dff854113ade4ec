package io.lowbit.data;

import io.lowbit.model.Tokenizer;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

/**
 * A calibration set: token sequences fed to the model while quantizing. Windows of a text (the
 * first n, or n sampled with a seed), or whole examples of varying length (task data, no padding).
 */
public record Calibration(String name, List<int[]> sequences) {
    public Calibration {
        if (sequences.isEmpty()) throw new IllegalArgumentException("a calibration set needs at least one sequence");
        for (int[] s : sequences)
            if (s.length < 2) throw new IllegalArgumentException("calibration sequences need at least 2 tokens");
        sequences = List.copyOf(sequences);
    }

    /** The first n non-overlapping windows of {@code length} tokens of [BOS] + encode(text) (deterministic). */
    public static Calibration firstWindows(String name, Tokenizer tok, String text, int n, int length) {
        int[] ids = tok.encode(text, true, false);
        if ((long) n * length > ids.length)
            throw new IllegalArgumentException(name + ": " + ids.length + " tokens hold " + ids.length / length
                    + " windows of " + length + ", not " + n);
        List<int[]> out = new ArrayList<>();
        for (int i = 0; i < n; i++) out.add(java.util.Arrays.copyOfRange(ids, i * length, (i + 1) * length));
        return new Calibration(name + " first " + n + "×" + length, out);
    }

    /** n windows of {@code length} tokens at uniformly random starts (GPTQ's c4/wikitext2 sampling), seeded. */
    public static Calibration sampledWindows(String name, Tokenizer tok, String text, int n, int length, long seed) {
        int[] ids = tok.encode(text, true, false);
        if (ids.length <= length)
            throw new IllegalArgumentException(
                    name + ": " + ids.length + " tokens, not more than one window of " + length);
        Random r = new Random(seed);
        List<int[]> out = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            int start = r.nextInt(ids.length - length);
            out.add(java.util.Arrays.copyOfRange(ids, start, start + length));
        }
        return new Calibration(name + " " + n + "×" + length + " seed " + seed, out);
    }

    /** Whole examples, each its own sequence, no padding. */
    public static Calibration examples(String name, List<int[]> sequences) {
        return new Calibration(name, sequences);
    }

    public long tokens() {
        return sequences.stream().mapToLong(s -> s.length).sum();
    }

    @Override
    public String toString() {
        return "Calibration[" + name + ", " + sequences.size() + " sequences, " + tokens() + " tokens]";
    }
}
