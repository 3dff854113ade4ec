package io.lowbit.kernel;

import io.github.spencerpark.jupyter.kernel.KernelConnectionProperties;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Optional;

/**
 * {@code java io.lowbit.kernel.Main <connection-file>}: what Jupyter starts (see the kernelspec
 * that install/install.sh writes). {@code --check} starts a kernel the way Jupyter would and runs
 * one cell through it.
 */
public final class Main {
    private Main() {}

    public static void main(String[] args) throws Exception {
        if (args.length == 1 && args[0].equals("--check")) {
            System.exit(Check.run());
        }
        if (args.length != 1 || args[0].startsWith("-")) {
            System.err.println("usage: lowbit kernel <connection-file>   (Jupyter passes it)\n"
                    + "       lowbit kernel --check              (starts a kernel and runs one cell)");
            System.exit(2);
        }
        System.setProperty("java.awt.headless", "true");
        long t0 = System.nanoTime();
        KernelConnectionProperties props;
        try {
            props = KernelConnectionProperties.parse(Files.readString(Path.of(args[0])));
        } catch (NoSuchFileException e) {
            Kernels.log("the connection file " + args[0] + " does not exist");
            System.exit(2);
            return;
        } catch (RuntimeException e) {
            Kernels.log("the connection file " + args[0] + " is not a Jupyter connection file: " + e);
            System.exit(2);
            return;
        }
        Server server = new Server(props);
        // cells write to the notebook; the kernel's own log goes to the real stderr (Kernels.log)
        System.setOut(server.printStream(false));
        System.setErr(server.printStream(true));
        System.setIn(server.stdinStream());
        server.start();
        watchParent(server);
        installSigint(server);
        try {
            LowbitKernel k = new LowbitKernel(server.iopub);
            server.kernelReady(k);
            Kernels.log(String.format("ready in %.2f s (JShell and the DSL loaded)", (System.nanoTime() - t0) / 1e9));
        } catch (Throwable t) {
            Kernels.log("the Java engine failed to start: " + t);
            server.kernelFailed(t);
        }
        boolean restart = server.awaitShutdown();
        Kernels.log(restart ? "restarting (the client starts a new process)" : "shutting down");
        server.finish();
        System.exit(0);
    }

    /** Exits when the process that started the kernel is gone (Jupyter sets JPY_PARENT_PID). */
    private static void watchParent(Server server) {
        Optional<ProcessHandle> parent = Optional.ofNullable(System.getenv("JPY_PARENT_PID"))
                .flatMap(pid -> {
                    try {
                        return ProcessHandle.of(Long.parseLong(pid.trim()));
                    } catch (NumberFormatException e) {
                        return Optional.empty();
                    }
                })
                .or(() -> ProcessHandle.current().parent());
        parent.ifPresent(p -> Thread.ofPlatform()
                .daemon()
                .name("lowbit-parent-watch")
                .start(() -> {
                    while (true) {
                        if (!p.isAlive()) {
                            Kernels.log("the process that started this kernel (pid " + p.pid() + ") is gone; exiting");
                            Runtime.getRuntime().halt(0); // nothing to save: the client and its connection are gone
                        }
                        try {
                            Thread.sleep(1000);
                        } catch (InterruptedException e) {
                            return;
                        }
                    }
                }));
    }

    /** Ctrl-C from a terminal, or a client that interrupts with a signal: interrupt the cell, not the JVM. */
    @SuppressWarnings("removal")
    private static void installSigint(Server server) {
        try {
            sun.misc.Signal.handle(new sun.misc.Signal("INT"), s -> server.interrupt(java.time.Instant.now()));
        } catch (Throwable t) {
            Kernels.log("SIGINT stays the JVM's default (" + t + "); interrupts arrive as messages");
        }
    }
}
