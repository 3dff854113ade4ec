package io.lowbit.eval;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import java.util.ArrayList;
import java.util.List;

/**
 * Spider's difficulty levels (easy, medium, hard, extra), computed from a query's parsed structure
 * (dev.json's {@code sql} field) as the official evaluation's {@code eval_hardness} counts components
 * (Yu et al., EMNLP 2018, §5; taoyds/spider evaluation.py): joins, WHERE, GROUP BY, ORDER BY, LIMIT,
 * OR and LIKE; nested queries; and several aggregates, selected columns, WHERE conditions or GROUP BY
 * columns. Its quirks are kept, since they decide the published per-level counts: an aggregate is any
 * unit whose first field is not 0, so a negated condition (its first field, not_op, is true) and every
 * AND/OR of a HAVING clause count as aggregates.
 */
public final class SpiderHardness {
    private SpiderHardness() {}

    public static final List<String> LEVELS = List.of("easy", "medium", "hard", "extra");

    /** WHERE_OPS.index('like') in Spider's parser. */
    private static final int LIKE = 9;

    public static String of(JsonObject sql) {
        int c1 = component1(sql), c2 = nested(sql).size(), others = others(sql);
        if (c1 <= 1 && others == 0 && c2 == 0) return "easy";
        if ((others <= 2 && c1 <= 1 && c2 == 0) || (c1 <= 2 && others < 2 && c2 == 0)) return "medium";
        if ((others > 2 && c1 <= 2 && c2 == 0)
                || (c1 > 2 && c1 <= 3 && others <= 2 && c2 == 0)
                || (c1 <= 1 && others == 0 && c2 <= 1)) return "hard";
        return "extra";
    }

    private static int component1(JsonObject sql) {
        int n = 0;
        if (!sql.getAsJsonArray("where").isEmpty()) n++;
        if (!sql.getAsJsonArray("groupBy").isEmpty()) n++;
        if (!sql.getAsJsonArray("orderBy").isEmpty()) n++;
        if (!sql.get("limit").isJsonNull()) n++;
        int tables = sql.getAsJsonObject("from").getAsJsonArray("table_units").size();
        if (tables > 0) n += tables - 1;
        for (JsonElement op : connectives(sql)) if (op.getAsString().equals("or")) n++;
        for (JsonElement u : conditions(sql)) if (u.getAsJsonArray().get(1).getAsInt() == LIKE) n++;
        return n;
    }

    private static List<JsonObject> nested(JsonObject sql) {
        List<JsonObject> out = new ArrayList<>();
        for (JsonElement u : conditions(sql)) {
            JsonArray c = u.getAsJsonArray();
            if (c.get(3).isJsonObject()) out.add(c.get(3).getAsJsonObject());
            if (c.get(4).isJsonObject()) out.add(c.get(4).getAsJsonObject());
        }
        for (String set : new String[] {"intersect", "except", "union"})
            if (sql.get(set).isJsonObject()) out.add(sql.getAsJsonObject(set));
        return out;
    }

    private static int others(JsonObject sql) {
        JsonArray select = sql.getAsJsonArray("select").get(1).getAsJsonArray();
        int agg = aggregates(select)
                + aggregates(everyOther(sql.getAsJsonArray("where"), 0))
                + aggregates(sql.getAsJsonArray("groupBy"));
        JsonArray orderBy = sql.getAsJsonArray("orderBy");
        if (!orderBy.isEmpty()) {
            List<JsonElement> units = new ArrayList<>();
            // Python's "[u[1] for u in units if u[1]] + [u[2] for u in units if u[2]]": first operands, then second
            for (int k = 1; k <= 2; k++)
                for (JsonElement v : orderBy.get(1).getAsJsonArray())
                    if (truthy(v.getAsJsonArray().get(k)))
                        units.add(v.getAsJsonArray().get(k));
            agg += aggregates(units);
        }
        agg += aggregates(sql.getAsJsonArray("having"));
        int n = agg > 1 ? 1 : 0;
        if (select.size() > 1) n++;
        if (sql.getAsJsonArray("where").size() > 1) n++;
        if (sql.getAsJsonArray("groupBy").size() > 1) n++;
        return n;
    }

    /** Units whose first field is not 0 as Python compares it: true, a non-zero number, or any string ("and"[0]). */
    private static int aggregates(Iterable<JsonElement> units) {
        int n = 0;
        for (JsonElement u : units) {
            if (u.isJsonPrimitive() && u.getAsJsonPrimitive().isString()) {
                n++;
                continue;
            }
            JsonElement first = u.getAsJsonArray().get(0);
            if (first.getAsJsonPrimitive().isBoolean() ? first.getAsBoolean() : first.getAsDouble() != 0) n++;
        }
        return n;
    }

    private static boolean truthy(JsonElement e) {
        return !e.isJsonNull() && !(e.isJsonArray() && e.getAsJsonArray().isEmpty());
    }

    /** Condition units of FROM, WHERE and HAVING (the even positions of each list). */
    private static List<JsonElement> conditions(JsonObject sql) {
        List<JsonElement> out = everyOther(sql.getAsJsonObject("from").getAsJsonArray("conds"), 0);
        out.addAll(everyOther(sql.getAsJsonArray("where"), 0));
        out.addAll(everyOther(sql.getAsJsonArray("having"), 0));
        return out;
    }

    /** The "and"/"or" between them (the odd positions). */
    private static List<JsonElement> connectives(JsonObject sql) {
        List<JsonElement> out = everyOther(sql.getAsJsonObject("from").getAsJsonArray("conds"), 1);
        out.addAll(everyOther(sql.getAsJsonArray("where"), 1));
        out.addAll(everyOther(sql.getAsJsonArray("having"), 1));
        return out;
    }

    private static List<JsonElement> everyOther(JsonArray a, int from) {
        List<JsonElement> out = new ArrayList<>();
        for (int i = from; i < a.size(); i += 2) out.add(a.get(i));
        return out;
    }
}
