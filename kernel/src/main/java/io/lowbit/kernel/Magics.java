package io.lowbit.kernel;

import io.lowbit.kernel.LowbitKernel.Shown;
import io.lowbit.torch.Device;
import java.io.File;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;

/**
 * The magics: {@code %time} / {@code %%time}, {@code %device}, {@code %jvm}, {@code %classpath},
 * {@code %plotly}, {@code %lsmagic}. They run in the kernel, not through JShell; only
 * {@code %time}'s statement is Java.
 */
final class Magics {
    private final LowbitKernel kernel;
    private final List<String> added = new ArrayList<>();
    private volatile boolean plotly;

    private static final Map<String, String> HELP = new TreeMap<>(Map.of(
            "time",
                    "%time <java>   runs the Java on this line and prints its wall and CPU time\n"
                            + "%%time         (first line of a cell) the same for the whole cell",
            "device",
                    "%device            shows the default device (where load() puts models)\n"
                            + "%device cuda|cpu|cuda:1   sets it",
            "jvm", "%jvm   the kernel JVM: version, heap used/committed/max, threads, processors, flags",
            "classpath",
                    "%classpath              lists what was added\n"
                            + "%classpath a.jar dir/*   adds jars (or a folder of classes) for the following cells",
            "plotly",
                    "%plotly on|off   interactive Plotly for tablesaw Figures (off: they show as text);\n"
                            + "                 plotly.js is inlined into the first figure, no network is used",
            "lsmagic", "%lsmagic   lists the magics"));

    Magics(LowbitKernel kernel) {
        this.kernel = kernel;
    }

    List<String> names() {
        return List.copyOf(HELP.keySet());
    }

    String help(String name) {
        return HELP.get(name.replaceFirst("^%+", ""));
    }

    boolean plotly() {
        return plotly;
    }

    Shown line(String name, String args) throws CellError {
        return switch (name) {
            case "time" -> {
                if (args.isBlank())
                    throw CellError.of("MagicError", "%time needs a statement: %time quantize(m, bits(4), RTN)");
                yield timed(() -> kernel.runJava(args, 1));
            }
            case "device" -> device(args);
            case "jvm" -> {
                System.out.print(jvm());
                yield null;
            }
            case "classpath" -> classpath(args);
            case "plotly" -> {
                switch (args.strip().toLowerCase(Locale.ROOT)) {
                    case "on" -> plotly = true;
                    case "off" -> plotly = false;
                    case "" -> {}
                    default -> throw CellError.of("MagicError", "%plotly takes on or off, not " + args);
                }
                System.out.println("interactive Plotly figures are " + (plotly ? "on" : "off"));
                yield null;
            }
            case "lsmagic" -> {
                HELP.values().forEach(System.out::println);
                yield null;
            }
            default ->
                throw CellError.of(
                        "UnknownMagic",
                        "%" + name + " is not a magic here; there are %" + String.join(", %", HELP.keySet())
                                + " (a line that starts with % is never Java)");
        };
    }

    Shown cell(String name, String args, String body) throws CellError {
        if (name.equals("time")) return timed(() -> kernel.run(body));
        throw CellError.of("UnknownMagic", "%%" + name + " is not a cell magic here; there is %%time");
    }

    interface Work {
        Shown run() throws CellError;
    }

    private Shown timed(Work w) throws CellError {
        var os = ManagementFactory.getOperatingSystemMXBean();
        long cpu0 = os instanceof com.sun.management.OperatingSystemMXBean s ? s.getProcessCpuTime() : -1;
        long t0 = System.nanoTime();
        try {
            return w.run();
        } finally {
            long wall = System.nanoTime() - t0;
            long cpu = os instanceof com.sun.management.OperatingSystemMXBean s ? s.getProcessCpuTime() - cpu0 : -1;
            System.out.println(
                    "Wall time: " + duration(wall) + (cpu0 < 0 ? "" : "   CPU time (all threads): " + duration(cpu)));
        }
    }

    static String duration(long nanos) {
        double s = nanos / 1e9;
        if (s >= 60) return String.format(Locale.ROOT, "%d min %.1f s", (long) (s / 60), s % 60);
        if (s >= 1) return String.format(Locale.ROOT, "%.2f s", s);
        if (s >= 1e-3) return String.format(Locale.ROOT, "%.1f ms", s * 1e3);
        return String.format(Locale.ROOT, "%.0f µs", s * 1e6);
    }

    private Shown device(String args) throws CellError {
        try {
            if (!args.isBlank()) Device.setDefault(Device.parse(args.strip()));
            System.out.println("default device: " + Device.defaultDevice());
            return null;
        } catch (RuntimeException | LinkageError e) {
            throw CellError.of("DeviceError", String.valueOf(e.getMessage()));
        }
    }

    static String jvm() {
        Runtime rt = Runtime.getRuntime();
        long mb = 1 << 20;
        var rb = ManagementFactory.getRuntimeMXBean();
        return String.format(
                Locale.ROOT,
                "Java %s (%s), pid %d, up %s%nheap: %d MB used, %d MB committed, %d MB max%nthreads: %d live, %d processors%nflags: %s%n",
                Runtime.version(),
                System.getProperty("java.vm.name"),
                ProcessHandle.current().pid(),
                duration(rb.getUptime() * 1_000_000L),
                (rt.totalMemory() - rt.freeMemory()) / mb,
                rt.totalMemory() / mb,
                rt.maxMemory() / mb,
                ManagementFactory.getThreadMXBean().getThreadCount(),
                rt.availableProcessors(),
                String.join(" ", rb.getInputArguments()));
    }

    private Shown classpath(String args) throws CellError {
        if (args.isBlank()) {
            System.out.println(
                    added.isEmpty()
                            ? "nothing added; the DSL and its libraries are always there"
                            : String.join("\n", added));
            return null;
        }
        for (String a : args.trim().split("\\s+")) {
            List<Path> paths = new ArrayList<>();
            if (a.endsWith("/*") || a.endsWith(File.separator + "*")) {
                Path dir = Path.of(a.substring(0, a.length() - 2));
                try (var s = Files.list(dir)) {
                    s.filter(p -> p.toString().endsWith(".jar")).sorted().forEach(paths::add);
                } catch (Exception e) {
                    throw CellError.of("ClasspathError", dir + ": not a readable folder (" + e.getMessage() + ")");
                }
            } else {
                paths.add(Path.of(a));
            }
            for (Path p : paths) {
                if (!Files.exists(p)) throw CellError.of("ClasspathError", p.toAbsolutePath() + " does not exist");
                String abs = p.toAbsolutePath().normalize().toString();
                kernel.shell().addToClasspath(abs);
                added.add(abs);
                System.out.println("added " + abs);
            }
        }
        return null;
    }
}
