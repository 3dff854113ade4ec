package io.lowbit.eval;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;

/**
 * Execution accuracy's comparison as Spider's official evaluation makes it (Zhong, Yu and Klein,
 * "Semantic Evaluation for Text-to-SQL with Distilled Test Suites", EMNLP 2020; taoyds/test-suite-sql-eval
 * exec_eval.py, which TaCQ runs with {@code --etype exec}): results are bags of rows, compared in order
 * only when the gold query says ORDER BY, and a permutation of the predicted columns may match.
 * Before running, both queries lose their DISTINCT keywords and the spaces inside "> =", "< =" and
 * "! =" (the evaluation's defaults: {@code --keep_distinct} off).
 */
public final class ExecutionMatch {
    private ExecutionMatch() {}

    /** Whether the gold query's rows come in a significant order: it says "order by" anywhere. */
    public static boolean orderMatters(String gold) {
        return gold.toLowerCase(Locale.ROOT).contains("order by");
    }

    /** The query as the evaluation runs it: comparison operators closed up, DISTINCT removed outside quotes. */
    public static String normalize(String sql) {
        String s = sql.replace("> =", ">=").replace("< =", "<=").replace("! =", "!=");
        StringBuilder out = new StringBuilder();
        char quote = 0;
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (quote != 0) {
                if (c == quote) quote = 0;
            } else if (c == '\'' || c == '"' || c == '`') {
                quote = c;
            } else if (s.regionMatches(true, i, "distinct", 0, 8) && !word(s, i - 1) && !word(s, i + 8)) {
                i += 7;
                continue;
            }
            out.append(c);
        }
        return out.toString();
    }

    private static boolean word(String s, int i) {
        return i >= 0 && i < s.length() && (Character.isLetterOrDigit(s.charAt(i)) || s.charAt(i) == '_');
    }

    /**
     * Whether {@code predicted} holds the same rows as {@code gold}: both empty; or the same number of
     * rows and columns, and some order of the predicted columns makes the rows equal as multisets (as
     * lists when {@code ordered}).
     */
    public static boolean equal(List<List<Object>> gold, List<List<Object>> predicted, boolean ordered) {
        if (gold.isEmpty() && predicted.isEmpty()) return true;
        if (gold.size() != predicted.size()) return false;
        int cols = gold.get(0).size();
        if (predicted.get(0).size() != cols) return false;
        List<List<Object>> g = columns(gold, cols), p = columns(predicted, cols);
        return search(gold, predicted, g, p, new int[cols], new boolean[cols], 0, ordered);
    }

    /**
     * Assigns predicted columns to gold columns one by one; a pair is tried only when the two columns
     * hold the same multiset of values (necessary for any match), and of identical predicted columns
     * only the first, which keeps the search small.
     */
    private static boolean search(
            List<List<Object>> gold,
            List<List<Object>> predicted,
            List<List<Object>> g,
            List<List<Object>> p,
            int[] perm,
            boolean[] used,
            int at,
            boolean ordered) {
        if (at == perm.length) return rowsEqual(gold, predicted, perm, ordered);
        List<List<Object>> tried = new ArrayList<>();
        for (int j = 0; j < p.size(); j++) {
            if (used[j] || tried.contains(p.get(j))) continue;
            tried.add(p.get(j));
            if (!counts(g.get(at)).equals(counts(p.get(j)))) continue;
            used[j] = true;
            perm[at] = j;
            if (search(gold, predicted, g, p, perm, used, at + 1, ordered)) return true;
            used[j] = false;
        }
        return false;
    }

    private static boolean rowsEqual(
            List<List<Object>> gold, List<List<Object>> predicted, int[] perm, boolean ordered) {
        Map<List<Object>, Integer> bag = new HashMap<>();
        for (int r = 0; r < gold.size(); r++) {
            List<Object> q = new ArrayList<>(perm.length);
            for (int j : perm) q.add(predicted.get(r).get(j));
            if (ordered) {
                if (!Objects.equals(gold.get(r), q)) return false;
            } else {
                bag.merge(gold.get(r), 1, Integer::sum);
                bag.merge(q, -1, Integer::sum);
            }
        }
        for (int n : bag.values()) if (n != 0) return false;
        return true;
    }

    private static List<List<Object>> columns(List<List<Object>> rows, int cols) {
        List<List<Object>> out = new ArrayList<>();
        for (int c = 0; c < cols; c++) {
            List<Object> col = new ArrayList<>(rows.size());
            for (List<Object> r : rows) col.add(r.get(c));
            out.add(col);
        }
        return out;
    }

    private static Map<Object, Integer> counts(List<Object> column) {
        Map<Object, Integer> m = new HashMap<>();
        for (Object v : column) m.merge(v, 1, Integer::sum);
        return m;
    }
}
