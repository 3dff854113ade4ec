package io.lowbit;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.file.Files;
import java.nio.file.Path;

/** Where tests find data: the checkout's data/ (shipped), or ../shared/data beside the checkout. */
public final class TestData {
    private TestData() {}

    public static Path root() {
        String r = System.getProperty("lowbit.root");
        if (r == null) r = System.getenv("LOWBIT_ROOT");
        if (r != null) return Path.of(r);
        for (Path p = Path.of("").toAbsolutePath(); p != null; p = p.getParent())
            if (Files.isDirectory(p.resolve("data/models/stories260K"))) return p;
        throw new IllegalStateException("cannot find the Lowbit checkout (set -Dlowbit.root)");
    }

    /** A file shipped in data/, e.g. "models/stories260K/stories260K.bin". */
    public static Path shipped(String relative) {
        return root().resolve("data").resolve(relative);
    }

    /** A file of ../shared/data; the test is skipped where the shared data is not beside the checkout. */
    public static Path shared(String relative) {
        Path p = root().resolve("../shared/data").resolve(relative).normalize();
        assumeTrue(Files.exists(p), "shared data not present: " + p);
        return p;
    }

    public static Path stories260K() {
        return shipped("models/stories260K/stories260K.bin");
    }

    public static Path stories260KTokenizer() {
        return shipped("models/stories260K/tok512.bin");
    }
}
