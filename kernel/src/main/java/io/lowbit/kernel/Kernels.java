package io.lowbit.kernel;

import java.io.FileDescriptor;
import java.io.FileOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.time.LocalTime;
import java.time.temporal.ChronoUnit;

/** The kernel's own log: the process's real stderr (Jupyter's server log), never a cell's output. */
final class Kernels {
    private Kernels() {}

    private static final PrintStream LOG =
            new PrintStream(new FileOutputStream(FileDescriptor.err), true, StandardCharsets.UTF_8);

    static void log(String message) {
        LOG.println("[lowbit " + LocalTime.now().truncatedTo(ChronoUnit.MILLIS) + "] " + message);
    }
}
