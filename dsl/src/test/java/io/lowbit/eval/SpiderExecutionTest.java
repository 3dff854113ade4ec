package io.lowbit.eval;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.lowbit.TestData;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Execution accuracy on the real SQLite databases: gold against itself, ordering, containment. */
class SpiderExecutionTest {
    private static SqlDatabases open(double seconds, int rowCap) {
        return new SqlDatabases(TestData.shared("spider/database"), seconds, rowCap);
    }

    private static Spider.Example example(String db, String gold) {
        return new Spider.Example(0, db, "q", gold, "easy");
    }

    private static boolean correct(SqlDatabases dbs, String db, String gold, String predicted) {
        return Spider.score(List.of(example(db, gold)), e -> predicted, dbs).correct() == 1;
    }

    @Test
    void everyExecutableGoldQueryScoresFullMarksAgainstItself() {
        TestData.shared("spider/dev.json");
        try (SqlDatabases dbs = open(30, 100_000)) {
            Spider.Result r = Spider.score(Spider.examples(), Spider.Example::gold, dbs);
            assertEquals(972, r.evaluated(), "all but wta_1's 62");
            assertEquals(62, r.skipped());
            assertEquals(972, r.correct());
            assertEquals(0, r.errors() + r.timeouts() + r.tooManyRows());
            assertEquals(972, r.byLevel().values().stream().mapToInt(c -> c[1]).sum());
            assertEquals(19, r.byDatabase().size());
        }
    }

    @Test
    void rowOrderCountsOnlyWhenTheGoldSaysOrderBy() {
        try (SqlDatabases dbs = open(10, 100_000)) {
            String byAge = "SELECT Name FROM singer ORDER BY Birth_Year DESC";
            assertTrue(correct(dbs, "singer", byAge, byAge));
            assertFalse(
                    correct(dbs, "singer", byAge, "SELECT Name FROM singer ORDER BY Birth_Year ASC"), "wrong ORDER BY");
            // the same rows, another order, against a gold without ORDER BY
            assertTrue(correct(dbs, "singer", "SELECT Name FROM singer", "SELECT Name FROM singer ORDER BY Name DESC"));
            // columns in another order still match; a missing row or column does not
            assertTrue(correct(
                    dbs, "singer", "SELECT Name, Citizenship FROM singer", "SELECT Citizenship, Name FROM singer"));
            assertFalse(correct(dbs, "singer", "SELECT Name FROM singer", "SELECT Name FROM singer LIMIT 3"));
            assertFalse(correct(dbs, "singer", "SELECT Name FROM singer", "SELECT Name, Citizenship FROM singer"));
            // DISTINCT is dropped from both queries before they run (test-suite-sql-eval's default)
            assertTrue(correct(
                    dbs, "singer", "SELECT DISTINCT Citizenship FROM singer", "SELECT Citizenship FROM singer"));
            String count = "SELECT count(*) FROM singer";
            assertTrue(correct(dbs, "singer", count, "SELECT 1.0 * count(*) FROM singer"), "8 == 8.0, as in Python");
            assertFalse(correct(dbs, "singer", count, "SELECT 0.5 + count(*) FROM singer"), "8 != 8.5");
            assertFalse(correct(dbs, "singer", count, "SELECT count(*) FROM singr"), "an error is wrong");
        }
    }

    @Test
    void multisetsCountDuplicatesAndColumnsMayBePermuted() {
        List<List<Object>> a = List.of(List.of(1L, "x"), List.of(1L, "x"), List.of(2L, "y"));
        List<List<Object>> b = List.of(List.of("y", 2L), List.of("x", 1L), List.of("x", 1L));
        List<List<Object>> c = List.of(List.of("y", 2L), List.of("y", 2L), List.of("x", 1L));
        assertTrue(ExecutionMatch.equal(a, b, false));
        assertFalse(ExecutionMatch.equal(a, b, true), "ordered: the rows come in another order");
        assertFalse(ExecutionMatch.equal(a, c, false), "the same set, other counts");
        assertTrue(ExecutionMatch.equal(List.of(), List.of(), true));
        assertEquals(
                "SELECT  a FROM t WHERE b >= 'distinct'",
                ExecutionMatch.normalize("SELECT DISTINCT a FROM t WHERE b > = 'distinct'"));
        assertEquals(
                "SELECT count( x), distinctive FROM t",
                ExecutionMatch.normalize("SELECT count(distinct x), distinctive FROM t"));
    }

    @Test
    void destructiveQueriesChangeNothing() throws Exception {
        Path shared = TestData.shared("spider/database/singer/singer.sqlite");
        byte[] before = MessageDigest.getInstance("SHA-256").digest(Files.readAllBytes(shared));
        try (SqlDatabases dbs = open(10, 100_000)) {
            List<List<Object>> rows = dbs.run("singer", "SELECT * FROM singer").rows();
            assertFalse(rows.isEmpty());
            for (String sql : new String[] {
                "DROP TABLE singer",
                "UPDATE singer SET Name = 'x'",
                "DELETE FROM song",
                "CREATE TABLE t(x)",
                "INSERT INTO singer(Singer_ID) VALUES (99)",
                "PRAGMA query_only = OFF"
            }) {
                SqlDatabases.Outcome o = dbs.run("singer", sql);
                if (sql.startsWith("PRAGMA")) continue; // refused or not, the writes after it must still fail
                assertEquals(SqlDatabases.Status.ERROR, o.status(), sql);
            }
            assertEquals(
                    SqlDatabases.Status.ERROR,
                    dbs.run("singer", "DROP TABLE singer").status(),
                    "still read-only");
            assertEquals(rows, dbs.run("singer", "SELECT * FROM singer").rows(), "the copy is unchanged");
        }
        byte[] after = MessageDigest.getInstance("SHA-256").digest(Files.readAllBytes(shared));
        assertArrayEquals(before, after, "the shared file too");
    }

    @Test
    void noQueryCreatesAFileElsewhere(@org.junit.jupiter.api.io.TempDir Path dir) {
        try (SqlDatabases dbs = open(10, 100_000)) {
            dbs.run("singer", "PRAGMA query_only = OFF"); // does not help: VACUUM INTO would then write its copy
            for (String sql : new String[] {
                "VACUUM INTO '" + dir.resolve("copy.sqlite") + "'",
                "ATTACH DATABASE '" + dir.resolve("new.sqlite") + "' AS x"
            }) assertEquals(SqlDatabases.Status.ERROR, dbs.run("singer", sql).status(), sql);
        }
        assertFalse(Files.exists(dir.resolve("copy.sqlite")) || Files.exists(dir.resolve("new.sqlite")));
    }

    @Test
    void aRunawayCrossJoinIsStoppedAtItsDeadline() {
        try (SqlDatabases dbs = open(1, 100_000)) {
            dbs.run("world_1", "SELECT 1"); // the copy is made before the clock starts
            long t0 = System.nanoTime();
            // 4,079 cities to the fourth power: ~2.8e14 rows to count, hours of work
            SqlDatabases.Outcome o = dbs.run("world_1", "SELECT count(*) FROM city a, city b, city c, city d");
            double seconds = (System.nanoTime() - t0) / 1e9;
            assertEquals(SqlDatabases.Status.TIMEOUT, o.status());
            assertTrue(seconds < 2, "stopped after " + seconds + " s");
            List<List<Object>> cities =
                    dbs.run("world_1", "SELECT count(*) FROM city").rows();
            assertEquals(List.of(List.of(4079L)), cities, "usable afterwards");
            Spider.Result r = Spider.score(
                    List.of(example("world_1", "SELECT count(*) FROM city")),
                    e -> "SELECT count(*) FROM city a, city b, city c, city d",
                    dbs);
            assertEquals(1, r.timeouts());
            assertEquals(0, r.correct());
        }
    }

    @Test
    void resultsOverTheRowCapCountAsWrong() {
        try (SqlDatabases dbs = open(10, 1000)) {
            SqlDatabases.Outcome o = dbs.run("world_1", "SELECT a.Name FROM city a, city b");
            assertEquals(SqlDatabases.Status.TOO_MANY_ROWS, o.status());
            assertTrue(Arrays.asList(SqlDatabases.Status.values()).contains(o.status()));
        }
    }
}
