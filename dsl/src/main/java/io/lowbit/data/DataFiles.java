package io.lowbit.data;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Finds data files by their path under a data folder: $LOWBIT_DATA (or -Dlowbit.data), the
 * checkout's data/ (what Lowbit ships), then ../shared/data beside the checkout.
 */
public final class DataFiles {
    private DataFiles() {}

    /** The Lowbit checkout or bundle: -Dlowbit.root, $LOWBIT_ROOT, or the nearest folder up with data/. */
    public static Path root() {
        String r = System.getProperty("lowbit.root");
        if (r == null || r.isBlank()) r = System.getenv("LOWBIT_ROOT");
        if (r != null && !r.isBlank()) return Path.of(r);
        for (Path p = Path.of("").toAbsolutePath(); p != null; p = p.getParent())
            if (Files.isDirectory(p.resolve("data/models"))) return p;
        return Path.of("").toAbsolutePath();
    }

    static List<Path> folders() {
        List<Path> dirs = new ArrayList<>();
        String d = System.getProperty("lowbit.data");
        if (d == null || d.isBlank()) d = System.getenv("LOWBIT_DATA");
        if (d != null && !d.isBlank()) dirs.add(Path.of(d));
        dirs.add(root().resolve("data"));
        dirs.add(root().resolve("../shared/data").normalize());
        return dirs;
    }

    /** The file at {@code relative} in the first data folder that has it; an error lists where it looked. */
    public static Path find(String relative) {
        List<Path> tried = new ArrayList<>();
        for (Path dir : folders()) {
            Path p = dir.resolve(relative);
            if (Files.exists(p)) return p;
            tried.add(p);
        }
        throw new IllegalArgumentException("data file '" + relative + "' not found; looked at " + tried
                + " (set LOWBIT_DATA to a folder that has it)");
    }

    public static String readText(Path p) {
        try {
            return Files.readString(p);
        } catch (IOException e) {
            throw new UncheckedIOException(p + ": " + e.getMessage(), e);
        }
    }
}
