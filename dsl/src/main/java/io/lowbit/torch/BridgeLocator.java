package io.lowbit.torch;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Finds liblowbit_bridge.so. In order: the system property {@code lowbit.native.lib}, the
 * environment variable {@code LOWBIT_NATIVE_LIB}, {@code $LOWBIT_HOME/native/} (a bundle), and
 * {@code kernels-gpu/build/} in the working directory or any parent (a source checkout).
 */
final class BridgeLocator {
    static final String FILE_NAME = "liblowbit_bridge.so";

    private BridgeLocator() {}

    static List<Path> candidates(String property, Map<String, String> env, Path workingDirectory) {
        List<Path> paths = new ArrayList<>();
        if (property != null && !property.isBlank()) paths.add(Path.of(property));
        String fromEnv = env.get("LOWBIT_NATIVE_LIB");
        if (fromEnv != null && !fromEnv.isBlank()) paths.add(Path.of(fromEnv));
        String home = env.get("LOWBIT_HOME");
        if (home != null && !home.isBlank()) paths.add(Path.of(home, "native", FILE_NAME));
        for (Path dir = workingDirectory.toAbsolutePath(); dir != null; dir = dir.getParent())
            paths.add(dir.resolve("kernels-gpu").resolve("build").resolve(FILE_NAME));
        return paths;
    }

    /** The first candidate that exists, or an exception listing every place looked and the fix. */
    static Path locate(List<Path> candidates) {
        for (Path p : candidates) if (Files.isRegularFile(p)) return p;
        StringBuilder m = new StringBuilder("Lowbit's native bridge (" + FILE_NAME + ") was not found. Looked in:\n");
        for (Path p : candidates) m.append("  ").append(p).append('\n');
        m.append("Build it with `bash install/install.sh` from the Lowbit checkout (it needs cmake, g++ and libtorch:")
                .append(" `apt-get install libtorch-dev`, or a pip-installed PyTorch),")
                .append(" or point -Dlowbit.native.lib / LOWBIT_NATIVE_LIB at the built library.");
        throw new NativeLibraryMissing(m.toString(), null);
    }

    static String loadFailure(Path library, Throwable cause) {
        return "Lowbit's native bridge at " + library + " could not be loaded: " + cause.getMessage() + "\n"
                + "It links against libtorch: if libtorch moved or is missing, rebuild with `bash install/install.sh`"
                + " (Debian: `apt-get install libtorch-dev`; pip torch: put torch's lib folder on LD_LIBRARY_PATH).";
    }
}
