package io.lowbit.eval;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.sqlite.ProgressHandler;
import org.sqlite.SQLiteConfig;
import org.sqlite.SQLiteConnection;
import org.sqlite.SQLiteLimits;

/**
 * Spider's SQLite databases, each run from a private read-only copy: a generated {@code DROP TABLE}
 * or {@code UPDATE} fails ("attempt to write a readonly database") and could not reach the shared
 * file anyway. Every query has a wall-clock budget, enforced by SQLite's progress handler (called
 * every few thousand virtual-machine steps, so a runaway cross join stops within milliseconds of
 * its deadline), and a cap on the rows it may return.
 *
 * <p>Values come back as Python's sqlite3 gives them to Spider's evaluation, so that equal results
 * compare equal: INTEGER as {@link Long}; REAL as {@link Double}, except that an integral REAL becomes
 * a {@link Long} (Python's {@code 1 == 1.0} and their equal hashes make them one value in the
 * evaluation's sets and multisets); TEXT as {@link String}; BLOB as a {@link ByteBuffer} (compared by
 * content); NULL as null.
 */
public final class SqlDatabases implements AutoCloseable {
    /** How a query ended. */
    public enum Status {
        OK,
        ERROR,
        TIMEOUT,
        TOO_MANY_ROWS
    }

    /** Rows of a query that ran ({@link Status#OK}), else why none came back. */
    public record Outcome(Status status, List<List<Object>> rows, String error) {
        public boolean ok() {
            return status == Status.OK;
        }
    }

    /** Progress-handler period in SQLite virtual-machine instructions: microseconds apart. */
    private static final int STEPS = 10_000;

    private final Path folder;
    private final Path copies;
    private final long budgetNanos;
    private final int rowCap;
    private final Map<String, Connection> open = new HashMap<>();

    /**
     * @param folder the {@code database} folder: one {@code <db_id>/<db_id>.sqlite} per database
     * @param timeoutSeconds wall-clock budget of one query
     * @param rowCap the most rows a query may return; more counts as {@link Status#TOO_MANY_ROWS}
     */
    public SqlDatabases(Path folder, double timeoutSeconds, int rowCap) {
        if (timeoutSeconds <= 0 || rowCap <= 0)
            throw new IllegalArgumentException("timeout and row cap must be positive");
        this.folder = folder;
        this.budgetNanos = (long) (timeoutSeconds * 1e9);
        this.rowCap = rowCap;
        try {
            this.copies = Files.createTempDirectory("lowbit-spider-");
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** The shared database file of {@code db}. */
    public Path file(String db) {
        return folder.resolve(db).resolve(db + ".sqlite");
    }

    public boolean has(String db) {
        return Files.isRegularFile(file(db));
    }

    /** Runs one statement on {@code db}'s private copy. */
    public Outcome run(String db, String sql) {
        Connection c = connection(db);
        long deadline = System.nanoTime() + budgetNanos;
        boolean[] timedOut = {false};
        try {
            ProgressHandler.setHandler(c, STEPS, new ProgressHandler() {
                @Override
                protected int progress() {
                    // a notebook's stop button interrupts the thread: stop the query too
                    if (Thread.currentThread().isInterrupted()) return 1;
                    if (System.nanoTime() - deadline > 0) timedOut[0] = true;
                    return timedOut[0] ? 1 : 0;
                }
            });
            try (Statement s = c.createStatement()) {
                List<List<Object>> rows = new ArrayList<>();
                if (s.execute(sql)) {
                    try (ResultSet r = s.getResultSet()) {
                        int cols = r.getMetaData().getColumnCount();
                        while (r.next()) {
                            if (rows.size() == rowCap)
                                return new Outcome(Status.TOO_MANY_ROWS, List.of(), "more than " + rowCap + " rows");
                            Object[] row = new Object[cols];
                            for (int i = 0; i < cols; i++) row[i] = value(r.getObject(i + 1));
                            rows.add(Arrays.asList(row));
                        }
                    }
                }
                return new Outcome(Status.OK, rows, null);
            }
        } catch (SQLException e) {
            if (timedOut[0]) return new Outcome(Status.TIMEOUT, List.of(), "over " + budgetNanos / 1e9 + " s");
            return new Outcome(Status.ERROR, List.of(), e.getMessage());
        } finally {
            try {
                ProgressHandler.clearHandler(c);
            } catch (SQLException ignored) {
                // the connection is unusable anyway; the next run reports it
            }
        }
    }

    static Object value(Object v) {
        return switch (v) {
            case null -> null;
            case Integer i -> (long) i;
            case Long l -> l;
            case Double d when d == Math.rint(d) && Math.abs(d) < 0x1p63 -> (long) (double) d;
            case Number n -> n.doubleValue();
            case byte[] b -> ByteBuffer.wrap(b.clone());
            default -> v.toString();
        };
    }

    private Connection connection(String db) {
        return open.computeIfAbsent(db, k -> {
            if (!has(k)) throw new IllegalArgumentException("Spider database '" + k + "' not found: " + file(k));
            try {
                Path copy = copies.resolve(k + ".sqlite");
                Files.copy(file(k), copy, StandardCopyOption.REPLACE_EXISTING);
                SQLiteConfig config = new SQLiteConfig();
                config.setReadOnly(true);
                Connection c = config.createConnection("jdbc:sqlite:" + copy);
                try (Statement s = c.createStatement()) {
                    s.execute("PRAGMA query_only = ON"); // a second lock: writes refused even if the open mode were not
                }
                // no second database: ATTACH and VACUUM INTO (which attaches its target) could create files elsewhere
                ((SQLiteConnection) c).setLimit(SQLiteLimits.SQLITE_LIMIT_ATTACHED, 0);
                return c;
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            } catch (SQLException e) {
                throw new IllegalStateException("cannot open " + file(k) + ": " + e.getMessage(), e);
            }
        });
    }

    /** Closes the connections and deletes the copies. */
    @Override
    public void close() {
        for (Connection c : open.values()) {
            try {
                c.close();
            } catch (SQLException ignored) {
                // closing a read-only copy that is about to be deleted
            }
        }
        open.clear();
        try (Stream<Path> s = Files.walk(copies)) {
            for (Path p : s.sorted(Comparator.reverseOrder()).toList()) Files.deleteIfExists(p);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
