package io.lowbit.eval;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import io.lowbit.data.DataFiles;
import io.lowbit.model.Generation;
import io.lowbit.model.Interrupts;
import io.lowbit.model.Model;
import io.lowbit.model.Progress;
import io.lowbit.model.Tokenizer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.TreeMap;
import java.util.function.Function;

/**
 * Spider 1.0 dev (Yu et al., "Spider: A Large-Scale Human-Labeled Dataset for Complex and Cross-Domain
 * Semantic Parsing and Text-to-SQL Task", EMNLP 2018) as TaCQ evaluates it (arXiv 2504.07389, Table 2;
 * The-Inscrutable-X/TACQ datasets_directory/Spider): a zero-shot chat prompt of the schema ("# table(col,…);"
 * per table) and the question, greedy decoding, the text up to the first ';' as the prediction, scored by
 * execution accuracy ({@link ExecutionMatch}) on the question's SQLite database ({@link SqlDatabases}).
 *
 * <p>Only the dev split is shipped, so calibration and evaluation split it by database:
 * {@link #CALIBRATION_DATABASES} (five, wta_1 among them, whose data file is missing and so could not be
 * evaluated anyway) give calibration prompts, the other 15 databases (805 questions) are evaluated; no
 * question or schema is in both. {@link Split#ALL} evaluates every executable question (972 of 1,034).
 */
public final class Spider {
    private Spider() {}

    /** Databases whose questions calibrate; evaluation leaves them out (unless {@link Split#ALL}). */
    public static final Set<String> CALIBRATION_DATABASES =
            Set.of("wta_1", "concert_singer", "pets_1", "poker_player", "orchestra");

    public static final String SYSTEM = "### Answer the question by sqlite SQL query only and with no explanation";

    public enum Split {
        /** The 15 databases not used for calibration. */
        EVALUATION,
        /** All 20 dev databases (972 executable questions while wta_1 is missing). */
        ALL
    }

    /** One table of a schema: its original name and columns, as tables.json spells them. */
    public record Table(String name, List<String> columns) {}

    public record Schema(String db, List<Table> tables) {}

    /** A dev question: its position in dev.json, database, question, gold SQL and difficulty level. */
    public record Example(int index, String db, String question, String gold, String hardness) {}

    public record Options(
            Split split, int limit, long seed, int maxNewTokens, int batch, double timeoutSeconds, int rowCap) {
        /** TaCQ's decoding (greedy, 2048 new tokens at most); 30 s and 100,000 rows per query. */
        public static Options defaults() {
            return new Options(Split.EVALUATION, 0, 1234, 2048, 64, 30, 100_000);
        }

        /** {@code n} questions drawn with the seed (0: all), kept in dev.json's order. */
        public Options limit(int n) {
            return new Options(split, n, seed, maxNewTokens, batch, timeoutSeconds, rowCap);
        }

        public Options split(Split s) {
            return new Options(s, limit, seed, maxNewTokens, batch, timeoutSeconds, rowCap);
        }

        public Options maxNewTokens(int n) {
            return new Options(split, limit, seed, n, batch, timeoutSeconds, rowCap);
        }

        public Options batch(int n) {
            return new Options(split, limit, seed, maxNewTokens, n, timeoutSeconds, rowCap);
        }

        public Options timeoutSeconds(double s) {
            return new Options(split, limit, seed, maxNewTokens, batch, s, rowCap);
        }
    }

    /** A question's prediction, how it ran, and the verdict. */
    public record Record(
            Example example, String completion, String predicted, SqlDatabases.Status status, boolean correct) {}

    /**
     * Execution accuracy over the {@code evaluated} questions (those whose database is present);
     * {@code skipped}: questions of the split whose database file is missing. {@code errors},
     * {@code timeouts} and {@code tooManyRows} are predictions counted wrong for that reason.
     * {@code byLevel} and {@code byDatabase}: {correct, evaluated}. {@code truncated}: prompts cut
     * from the left to fit the context. {@code promptTokens}, {@code newTokens}: tokens read and generated.
     */
    public record Result(
            String coverage,
            int evaluated,
            int correct,
            int errors,
            int timeouts,
            int tooManyRows,
            int skipped,
            int truncated,
            Map<String, int[]> byLevel,
            Map<String, int[]> byDatabase,
            List<Record> records,
            long promptTokens,
            long newTokens,
            double seconds) {
        public double accuracy() {
            return evaluated == 0 ? Double.NaN : (double) correct / evaluated;
        }
    }

    // ---------------------------------------------------------------- data

    /** The schemas of tables.json by database. */
    public static Map<String, Schema> schemas() {
        Map<String, Schema> out = new LinkedHashMap<>();
        for (JsonElement e : readArray("spider/tables.json")) {
            JsonObject o = e.getAsJsonObject();
            JsonArray names = o.getAsJsonArray("table_names_original");
            List<List<String>> columns = new ArrayList<>();
            for (int t = 0; t < names.size(); t++) columns.add(new ArrayList<>());
            for (JsonElement c : o.getAsJsonArray("column_names_original")) {
                int table = c.getAsJsonArray().get(0).getAsInt();
                if (table >= 0) columns.get(table).add(c.getAsJsonArray().get(1).getAsString()); // -1 is '*'
            }
            List<Table> tables = new ArrayList<>();
            for (int t = 0; t < names.size(); t++)
                tables.add(new Table(names.get(t).getAsString(), List.copyOf(columns.get(t))));
            String db = o.get("db_id").getAsString();
            out.put(db, new Schema(db, List.copyOf(tables)));
        }
        return out;
    }

    /** All 1,034 dev questions in dev.json's order. */
    public static List<Example> examples() {
        List<Example> out = new ArrayList<>();
        for (JsonElement e : readArray("spider/dev.json")) {
            JsonObject o = e.getAsJsonObject();
            out.add(new Example(
                    out.size(),
                    o.get("db_id").getAsString(),
                    o.get("question").getAsString(),
                    o.get("query").getAsString(),
                    SpiderHardness.of(o.getAsJsonObject("sql"))));
        }
        return out;
    }

    /** The folder of the SQLite databases ({@code <db_id>/<db_id>.sqlite}). */
    public static Path databases() {
        return DataFiles.find("spider/database");
    }

    private static JsonArray readArray(String relative) {
        Path p = DataFiles.find(relative);
        try {
            return JsonParser.parseString(DataFiles.readText(p)).getAsJsonArray();
        } catch (RuntimeException e) {
            throw new IllegalArgumentException(p + " is not Spider's JSON list: " + e.getMessage(), e);
        }
    }

    // ---------------------------------------------------------------- protocol

    /** The user message: the schema, one "# table(col1,col2,…);" line per table, then the question. */
    public static String userMessage(String question, Schema schema) {
        StringBuilder sb = new StringBuilder("### Sqlite SQL tables, with their properties:\n");
        for (Table t : schema.tables())
            sb.append("# ")
                    .append(t.name())
                    .append('(')
                    .append(String.join(",", t.columns()))
                    .append(");\n");
        return sb.append("###\n### ").append(question).append("\n### SQL:").toString();
    }

    /** The whole prompt: the model's chat template with the generation prompt, or the plain text ({@link ChatPrompt}). */
    public static String prompt(Tokenizer tok, String question, Schema schema) {
        return ChatPrompt.render(tok, SYSTEM, userMessage(question, schema));
    }

    /** TaCQ's prediction: the text up to the first ';', stripped, newlines as spaces, ';' appended. */
    public static String prediction(String completion) {
        int cut = completion.indexOf(';');
        String sql = (cut < 0 ? completion : completion.substring(0, cut)).strip();
        return sql.replace("\r\n", " ").replace('\n', ' ').replace('\r', ' ') + ";";
    }

    /** The split's questions, {@code limit} of them drawn with the seed when positive, in dev.json's order. */
    public static List<Example> select(Options o) {
        List<Example> all = new ArrayList<>();
        for (Example e : examples()) if (o.split() == Split.ALL || !CALIBRATION_DATABASES.contains(e.db())) all.add(e);
        if (o.limit() <= 0 || o.limit() >= all.size()) return all;
        List<Example> drawn = new ArrayList<>(all);
        Collections.shuffle(drawn, new Random(o.seed()));
        drawn = new ArrayList<>(drawn.subList(0, o.limit()));
        drawn.sort(Comparator.comparingInt(Example::index));
        return drawn;
    }

    // ---------------------------------------------------------------- evaluation

    /** Generates every selected question's SQL greedily, in batches of similar length, and scores it. */
    public static Result run(Model m, Options o, Progress progress) {
        long t0 = System.nanoTime();
        Tokenizer tok = m.tokenizer();
        if (tok == null)
            throw new IllegalArgumentException(m.name() + " has no tokenizer to write Spider's prompts with");
        List<Example> chosen = select(o);
        Map<String, Schema> schemas = schemas();
        Path folder = databases();
        // what the context leaves for new tokens: TaCQ's 2048 where it fits, at most half the context otherwise
        int context = m.config().maxPositions();
        int maxNew = Math.min(o.maxNewTokens(), context / 2);
        int room = context - maxNew;
        List<int[]> encoded = new ArrayList<>();
        List<Example> present = new ArrayList<>();
        int skipped = 0, truncated = 0;
        try (SqlDatabases dbs = new SqlDatabases(folder, o.timeoutSeconds(), o.rowCap())) {
            for (Example e : chosen) {
                if (!dbs.has(e.db())) {
                    skipped++;
                    continue;
                }
                int[] ids = tok.encode(prompt(tok, e.question(), schemas.get(e.db())), true, false);
                if (ids.length > room) { // keep BOS and the end, where the question is
                    int[] cut = Arrays.copyOfRange(ids, ids.length - room, ids.length);
                    cut[0] = ids[0];
                    ids = cut;
                    truncated++;
                }
                present.add(e);
                encoded.add(ids);
            }
            Integer[] order = new Integer[present.size()];
            for (int i = 0; i < order.length; i++) order[i] = i;
            Arrays.sort(order, Comparator.comparingInt(i -> -encoded.get(i).length)); // little padding per batch
            // generation stops at ';': the prediction ends there anyway
            Generation.Options gen = Generation.Options.greedy(maxNew).withStop(";");
            int endOfTurn = ChatPrompt.endOfTurn(tok);
            String[] completions = new String[present.size()];
            long promptTokens = 0, newTokens = 0;
            int done = 0;
            while (done < order.length) {
                Interrupts.check();
                int n = Math.min(o.batch(), order.length - done);
                int[][] batch = new int[n][];
                for (int k = 0; k < n; k++) batch[k] = encoded.get(order[done + k]);
                Generation.Tokens out = Generation.generateTokens(m, batch, gen);
                for (int k = 0; k < n; k++) {
                    int[] generated = upTo(out.tokens()[k], endOfTurn);
                    completions[order[done + k]] = tok.decode(generated);
                    promptTokens += batch[k].length;
                    newTokens += generated.length;
                }
                done += n;
                progress.update("Spider questions", done, order.length);
            }
            Map<Integer, String> byIndex = new HashMap<>();
            for (int i = 0; i < present.size(); i++) byIndex.put(present.get(i).index(), completions[i]);
            Result r = score(present, e -> byIndex.get(e.index()), dbs);
            String coverage = coverage(o, chosen.size(), skipped);
            return new Result(
                    coverage,
                    r.evaluated(),
                    r.correct(),
                    r.errors(),
                    r.timeouts(),
                    r.tooManyRows(),
                    skipped,
                    truncated,
                    r.byLevel(),
                    r.byDatabase(),
                    r.records(),
                    promptTokens,
                    newTokens,
                    (System.nanoTime() - t0) / 1e9);
        }
    }

    /** The tokens before the first {@code stop} (all of them when it is absent or -1). */
    static int[] upTo(int[] tokens, int stop) {
        for (int i = 0; i < tokens.length; i++) if (tokens[i] == stop) return Arrays.copyOf(tokens, i);
        return tokens;
    }

    private static String coverage(Options o, int chosen, int skipped) {
        String set = o.split() == Split.ALL ? "dev, all databases" : "dev, the 15 databases not calibrated on";
        String of = o.limit() > 0 ? ", " + chosen + " drawn" : "";
        return set + of + (skipped > 0 ? ", " + skipped + " skipped (database file missing)" : "");
    }

    /**
     * Execution accuracy of the completions {@code completion} gives for {@code examples} (each cut
     * with {@link #prediction}); gold results are computed once per distinct (database, query).
     */
    public static Result score(List<Example> examples, Function<Example, String> completion, SqlDatabases dbs) {
        long t0 = System.nanoTime();
        Map<String, SqlDatabases.Outcome> gold = new HashMap<>();
        Map<String, int[]> byLevel = new LinkedHashMap<>(), byDatabase = new TreeMap<>();
        for (String level : SpiderHardness.LEVELS) byLevel.put(level, new int[2]);
        List<Record> records = new ArrayList<>();
        int correct = 0, errors = 0, timeouts = 0, rows = 0, skipped = 0;
        for (Example e : examples) {
            Interrupts.check();
            if (!dbs.has(e.db())) {
                skipped++;
                continue;
            }
            String g = ExecutionMatch.normalize(e.gold());
            SqlDatabases.Outcome want = gold.computeIfAbsent(e.db() + "\n" + g, k -> dbs.run(e.db(), g));
            if (!want.ok())
                throw new IllegalStateException("Spider's gold query " + e.index() + " does not run on " + e.db() + ": "
                        + want.error() + "\n" + e.gold());
            String text = completion.apply(e);
            String predicted = prediction(text);
            SqlDatabases.Outcome got = dbs.run(e.db(), ExecutionMatch.normalize(predicted));
            boolean ok =
                    got.ok() && ExecutionMatch.equal(want.rows(), got.rows(), ExecutionMatch.orderMatters(e.gold()));
            switch (got.status()) {
                case ERROR -> errors++;
                case TIMEOUT -> timeouts++;
                case TOO_MANY_ROWS -> rows++;
                case OK -> {}
            }
            if (ok) correct++;
            tally(byLevel, e.hardness(), ok);
            tally(byDatabase, e.db(), ok);
            records.add(new Record(e, text, predicted, got.status(), ok));
        }
        return new Result(
                "",
                records.size(),
                correct,
                errors,
                timeouts,
                rows,
                skipped,
                0,
                byLevel,
                byDatabase,
                records,
                0,
                0,
                (System.nanoTime() - t0) / 1e9);
    }

    private static void tally(Map<String, int[]> m, String key, boolean ok) {
        int[] c = m.computeIfAbsent(key, k -> new int[2]);
        if (ok) c[0]++;
        c[1]++;
    }
}
