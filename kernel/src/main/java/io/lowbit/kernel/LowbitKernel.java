package io.lowbit.kernel;

import io.github.spencerpark.jupyter.kernel.BaseKernel;
import io.github.spencerpark.jupyter.kernel.LanguageInfo;
import io.github.spencerpark.jupyter.kernel.ReplacementOptions;
import io.github.spencerpark.jupyter.kernel.display.DisplayData;
import io.lowbit.dsl.Lowbit;
import io.lowbit.kernel.Cell.Java;
import io.lowbit.kernel.Cell.Magic;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.BooleanSupplier;
import jdk.jshell.Diag;
import jdk.jshell.EvalException;
import jdk.jshell.ExpressionSnippet;
import jdk.jshell.JShell;
import jdk.jshell.JShellException;
import jdk.jshell.Snippet;
import jdk.jshell.SnippetEvent;
import jdk.jshell.SourceCodeAnalysis;
import jdk.jshell.SourceCodeAnalysis.Completeness;
import jdk.jshell.UnresolvedReferenceException;
import jdk.jshell.VarSnippet;

/**
 * The Lowbit kernel: Java cells run by an in-process JShell with the DSL imported, values shown
 * through the renderer, magics, completion, inspection. The transport (sockets, messages,
 * channels) is {@link Server}'s; this class never sees a message.
 */
final class LowbitKernel extends BaseKernel {
    static final String VERSION = "0.1.0";

    /**
     * What every session starts with: the DSL's verbs and types, and by name only the library types
     * that the verbs return or that their examples name; the library's other classes stay out of
     * completion and out of the way of a notebook's own names.
     */
    static final List<String> PRELUDE = List.of(
            "import java.util.*;",
            "import java.util.stream.*;",
            "import java.nio.file.*;",
            "import java.time.*;",
            "import static io.lowbit.dsl.Lowbit.*;",
            "import static io.lowbit.kernel.Notebook.*;",
            "import io.lowbit.dsl.*;",
            "import io.lowbit.model.Model;",
            "import io.lowbit.model.Models;",
            "import io.lowbit.model.Generation;",
            "import io.lowbit.data.Calibration;",
            "import io.lowbit.quant.Grid;",
            "import io.lowbit.quant.Method;",
            "import io.lowbit.quant.Mask;",
            "import io.lowbit.quant.QuantizedModel;",
            "import io.lowbit.quant.Tesseraq;",
            "import io.lowbit.quant.Claq;",
            "import io.lowbit.quant.Export;",
            "import io.lowbit.quant.Saliency.Score;",
            "import io.lowbit.torch.Device;");

    private static volatile LowbitKernel current;
    private static final boolean TRACE = System.getenv("LOWBIT_TRACE") != null;

    final Iopub iopub;
    private final JShell shell;
    private final Renderers renderers;
    private final Magics magics;
    private final Map<String, Integer> snippetLines = new ConcurrentHashMap<>();
    private volatile BooleanSupplier stopped = () -> false;
    private volatile DisplayData page;

    /** Help the last cell asked for with {@code name?}, for the front end's pager (or null). */
    DisplayData page() {
        return page;
    }

    LowbitKernel(Iopub iopub) {
        this.iopub = iopub;
        this.renderers = new Renderers(getRenderer());
        this.shell = Engine.create(List.of("-parameters"));
        this.magics = new Magics(this);
        for (String p : PRELUDE) {
            var events = shell.eval(p);
            if (events.isEmpty() || events.get(0).status() == Snippet.Status.REJECTED)
                Kernels.log("the prelude line " + p + " was rejected: " + diagnostics(events));
        }
        warmUp();
        current = this;
        Lowbit.setProgress(() -> new NotebookProgress(this));
    }

    /**
     * Run and dropped before the kernel reports ready, so javac has compiled and JShell run a snippet
     * before the first cell. More kinds of snippet (loops, lambdas, classes) cost a second of start
     * each on the 2-core machine and did not make the first cell measurably faster.
     */
    static final List<String> WARM_UP = List.of("1");

    private void warmUp() {
        long t0 = System.nanoTime();
        int before = (int) shell.snippets().count();
        for (String w : WARM_UP) {
            var events = shell.eval(w);
            if (events.isEmpty() || events.get(0).status() == Snippet.Status.REJECTED)
                Kernels.log("the warm-up snippet " + w + " was rejected: " + diagnostics(events));
        }
        shell.snippets().skip(before).toList().forEach(shell::drop); // the user's session starts empty
        if (TRACE) Kernels.log(String.format("JShell warm-up: %.0f ms", (System.nanoTime() - t0) / 1e6));
    }

    static LowbitKernel current() {
        LowbitKernel k = current;
        if (k == null) throw new IllegalStateException("no Lowbit kernel is running in this JVM");
        return k;
    }

    JShell shell() {
        return shell;
    }

    Renderers renderers() {
        return renderers;
    }

    Magics magics() {
        return magics;
    }

    // ------------------------------------------------------------------------------ execution

    /** BaseKernel's entry: runs the cell, returns its value's bundle (or null). */
    @Override
    public DisplayData eval(String code) throws CellError {
        return execute(code, () -> false);
    }

    /**
     * Runs a cell; {@code stopped} says whether it was interrupted, which may happen before it starts,
     * while it compiles, runs or renders: at each of those it is stopped, and said to be.
     */
    DisplayData execute(String code, BooleanSupplier stopped) throws CellError {
        this.stopped = stopped;
        Engine.stopWhen(stopped);
        if (stopped.getAsBoolean()) throw interruptedError(null);
        snippetLines.clear();
        page = null;
        String asked = code.strip();
        if (asked.matches("[A-Za-z_$][\\w$.]*\\?")) { // "quantize?" shows its help in the pager, as in IPython
            String name = asked.substring(0, asked.length() - 1);
            DisplayData d = inspect(name, name.length(), true);
            if (d == null) throw CellError.of("NoHelp", "nothing is known about " + name);
            page = d;
            return null;
        }
        Shown shown = run(code);
        if (shown == null) return null;
        DisplayData d = render(shown.value());
        if (stopped.getAsBoolean()) throw interruptedError(null);
        return d;
    }

    /** A value to show as the cell's result (which may itself be null). */
    record Shown(Object value) {}

    Shown run(String code) throws CellError {
        Cell cell = Cell.parse(code, this::isCompleteJava);
        if (cell.cellMagic() != null) return magics.cell(cell.cellMagic(), cell.cellMagicArgs(), cell.body());
        Shown last = null;
        for (Cell.Part p : cell.parts()) {
            last = switch (p) {
                case Java j -> runJava(j.source(), j.firstLine());
                case Magic m -> magics.line(m.name(), m.args());
            };
        }
        return last;
    }

    /** Runs Java snippet by snippet; the last expression's value is shown unless it ends with ';'. */
    Shown runJava(String source, int firstLine) throws CellError {
        SourceCodeAnalysis sca = shell.sourceCodeAnalysis();
        Shown shown = null;
        int offset = 0;
        while (offset < source.length() && !source.substring(offset).isBlank()) {
            while (Character.isWhitespace(source.charAt(offset)))
                offset++; // a snippet's positions start at its first character
            String rest = source.substring(offset);
            var info = sca.analyzeCompletion(rest);
            boolean complete = info.completeness().isComplete();
            if (info.completeness() == Completeness.EMPTY) break;
            int consumed = complete ? rest.length() - info.remaining().length() : rest.length();
            String text = rest.substring(0, consumed);
            int lead = text.length() - text.stripLeading().length();
            int line = firstLine
                    + (int) source.substring(0, offset + lead)
                            .chars()
                            .filter(c -> c == '\n')
                            .count();
            String snippet = complete ? info.source() : rest;
            if (stopped.getAsBoolean()) throw interruptedError(null);
            long t0 = System.nanoTime();
            List<SnippetEvent> events = shell.eval(snippet);
            if (TRACE) Kernels.log(String.format("jshell eval %.2f ms", (System.nanoTime() - t0) / 1e6));
            shown = check(events, snippet, line, text.strip().endsWith(";"));
            offset += consumed;
            if (!complete) break;
        }
        return shown;
    }

    private Shown check(List<SnippetEvent> events, String source, int line, boolean semicolon) throws CellError {
        if (stopped.getAsBoolean()) { // JShell reports a stopped snippet as having run; the user pressed stop
            JShellException ex = events.stream()
                    .map(SnippetEvent::exception)
                    .filter(e -> e != null)
                    .findFirst()
                    .orElse(null);
            throw interruptedError(ex);
        }
        Shown shown = null;
        for (SnippetEvent e : events) {
            if (e.causeSnippet() != null) continue; // what this snippet did to others
            Snippet s = e.snippet();
            snippetLines.put(s.id(), line);
            if (e.status() == Snippet.Status.REJECTED) throw compileError(s, source, line);
            if (e.exception() != null) throw runtimeError(e.exception(), source, line);
            if (e.status() == Snippet.Status.RECOVERABLE_DEFINED
                    || e.status() == Snippet.Status.RECOVERABLE_NOT_DEFINED)
                System.err.println(
                        "note: " + s.source().strip().lines().findFirst().orElse("") + " can be used once it compiles: "
                                + String.join("; ", unresolved(s)));
            if (!semicolon && showsValue(s)) shown = new Shown(Engine.lastValue());
        }
        return shown;
    }

    private List<String> unresolved(Snippet s) {
        List<String> out = new ArrayList<>();
        if (s instanceof jdk.jshell.DeclarationSnippet d)
            shell.unresolvedDependencies(d).forEach(n -> out.add("needs " + n));
        shell.diagnostics(s).forEach(d -> out.add(d.getMessage(Locale.ROOT)));
        return out;
    }

    private static boolean showsValue(Snippet s) {
        return switch (s) {
            case VarSnippet v ->
                v.subKind() == Snippet.SubKind.TEMP_VAR_EXPRESSION_SUBKIND && !"void".equals(v.typeName());
            case ExpressionSnippet x -> x.subKind() == Snippet.SubKind.VAR_VALUE_SUBKIND;
            default -> false;
        };
    }

    boolean isCompleteJava(String java) {
        return javaCompleteness(java).equals("complete");
    }

    /** "complete", "invalid", or the indent to continue with: JShell's verdict snippet by snippet. */
    private String javaCompleteness(String java) {
        String rest = java;
        SourceCodeAnalysis sca = shell.sourceCodeAnalysis();
        while (!rest.isBlank()) {
            var info = sca.analyzeCompletion(rest);
            switch (info.completeness()) {
                case EMPTY -> {
                    return "complete";
                }
                case DEFINITELY_INCOMPLETE, CONSIDERED_INCOMPLETE -> {
                    return "    ";
                }
                case UNKNOWN -> {
                    return "invalid";
                }
                default -> rest = info.remaining();
            }
        }
        return "complete";
    }

    // ------------------------------------------------------------------------------ errors

    private CellError compileError(Snippet s, String source, int line) {
        List<String> tb = new ArrayList<>();
        String first = null;
        for (Diag d : shell.diagnostics(s).toList()) {
            if (!d.isError()) continue;
            String msg = d.getMessage(Locale.ROOT);
            if (first == null) first = msg.lines().findFirst().orElse(msg);
            int pos = (int) Math.max(0, Math.min(d.getStartPosition(), source.length()));
            int lineStart = source.lastIndexOf('\n', Math.max(0, pos - 1)) + 1;
            if (pos > 0 && pos <= source.length() && source.charAt(pos - 1) == '\n') lineStart = pos;
            int lineEnd = source.indexOf('\n', pos);
            String text = source.substring(lineStart, lineEnd < 0 ? source.length() : lineEnd);
            int at = line
                    + (int) source.substring(0, lineStart)
                            .chars()
                            .filter(c -> c == '\n')
                            .count();
            int end = (int) Math.min(Math.max(d.getEndPosition(), pos + 1), lineEnd < 0 ? source.length() : lineEnd);
            tb.add(CellError.header("compile error", "line " + at + " of the cell"));
            tb.add("    " + text);
            tb.add("    " + " ".repeat(Math.max(0, pos - lineStart)) + "^" + "~".repeat(Math.max(0, end - pos - 1)));
            msg.lines()
                    .filter(l -> !l.matches("\\s*location: class\\s*"))
                    .forEach(tb::add); // JShell's wrapper class has no name
        }
        if (first == null) { // rejected without an error diagnostic (an unsupported snippet kind)
            first = "this code was not accepted";
            tb.add(CellError.header("compile error", first));
            tb.add("    " + source.strip());
        }
        return new CellError("CompileError", first, tb);
    }

    private CellError runtimeError(JShellException ex, String source, int line) {
        if (stopped.getAsBoolean()) return interruptedError(ex);
        String ename;
        String evalue;
        if (ex instanceof EvalException ee) {
            ename = ee.getExceptionClassName();
            evalue = ee.getMessage();
        } else if (ex instanceof UnresolvedReferenceException ure) {
            ename = "UnresolvedReference";
            evalue = ure.getSnippet().source().strip().lines().findFirst().orElse("") + " needs "
                    + String.join(
                            ", ", shell.unresolvedDependencies(ure.getSnippet()).toList());
        } else {
            ename = ex.getClass().getSimpleName();
            evalue = ex.getMessage();
        }
        if (ename.equals(io.lowbit.model.Interrupts.Cancelled.class.getName())) return interruptedError(ex);
        String simple = ename.substring(ename.lastIndexOf('.') + 1).replace('$', '.');
        List<String> tb = new ArrayList<>();
        tb.add(CellError.header(simple, evalue));
        tb.addAll(where(ex));
        for (Throwable c = ex.getCause(); c != null; c = c.getCause()) {
            String cn = c instanceof EvalException ce
                    ? ce.getExceptionClassName()
                    : c.getClass().getName();
            tb.add("Caused by " + cn + (c.getMessage() == null ? "" : ": " + c.getMessage()));
            tb.addAll(where(c));
        }
        return new CellError(simple, evalue == null ? "" : evalue, tb);
    }

    /** The frames worth reading: the cell's own lines (mapped to cell lines), then a few library frames. */
    private List<String> where(Throwable t) {
        List<String> out = new ArrayList<>();
        int library = 0;
        for (StackTraceElement f : t.getStackTrace()) {
            String file = f.getFileName();
            if (file != null && file.startsWith("#")) {
                Integer start = snippetLines.get(file.substring(1));
                String name = f.getMethodName();
                String fn =
                        name.isEmpty() || name.contains("$") ? "" : " in " + name + "()"; // do_it$ is the cell itself
                String at = start == null
                        ? "  at a snippet of an earlier cell" + fn
                        : "  at line " + (start + f.getLineNumber() - 1) + " of the cell" + fn;
                if (out.isEmpty() || !out.get(out.size() - 1).equals(at))
                    out.add(at); // a lambda's frame repeats its line
            } else if (f.getClassName().startsWith("io.lowbit.kernel.Engine")
                    || f.getClassName().startsWith("jdk.internal.reflect")
                    || f.getClassName().startsWith("java.lang.reflect")) {
                break; // below here is the kernel's machinery
            } else if (out.isEmpty() && library++ < 8) {
                out.add("  at " + f);
            }
        }
        return out;
    }

    private CellError interruptedError(Throwable ex) {
        List<String> tb = new ArrayList<>();
        tb.add(CellError.header("Interrupted", "the cell was stopped"));
        if (ex != null) tb.addAll(where(ex));
        return new CellError("Interrupted", "the cell was stopped", tb);
    }

    // ------------------------------------------------------------------------------ rendering

    /** A value as a MIME bundle; a renderer or toString() that throws falls back to a plain description. */
    DisplayData render(Object value) {
        try {
            return value == null ? new DisplayData("null") : renderers.render(value);
        } catch (Throwable t) { // an Error from user code's toString or a renderer must not end the cell's reply
            String type = value.getClass().getName();
            if (!stopped.getAsBoolean()) System.err.println("showing the " + type + " failed: " + t);
            return new DisplayData(type + "@" + Integer.toHexString(System.identityHashCode(value)));
        }
    }

    // ------------------------------------------------------------------------------ BaseKernel's other duties

    @Override
    public LanguageInfo getLanguageInfo() {
        return new LanguageInfo.Builder("java")
                .version(Runtime.version().toString())
                .mimetype("text/x-java-source")
                .fileExtension(".jshell")
                .pygments("java")
                .codemirror("text/x-java")
                .build();
    }

    @Override
    public String getBanner() {
        return "Lowbit " + VERSION + " on Java " + Runtime.version().feature()
                + " — low-bit LLM quantization. `%lsmagic` lists magics; Shift-Tab on a verb shows its help.";
    }

    /** Stops the running cell: its snippet (JShell's stop flag, and its threads are interrupted) or its rendering. */
    @Override
    public void interrupt() {
        shell.stop();
        Engine.stopAll();
    }

    @Override
    public void onShutdown(boolean restarting) {
        try {
            shell.close();
        } catch (RuntimeException e) {
            Kernels.log("closing JShell: " + e);
        }
    }

    @Override
    public String isComplete(String code) {
        Cell cell = Cell.parse(code, this::isCompleteJava);
        if (cell.cellMagic() != null) return "complete";
        for (Cell.Part p : cell.parts()) {
            if (!(p instanceof Java j)) continue;
            String verdict = javaCompleteness(j.source());
            if (!verdict.equals("complete")) return verdict;
        }
        return "complete";
    }

    @Override
    public ReplacementOptions complete(String code, int at) {
        int lineStart = code.lastIndexOf('\n', Math.max(0, at - 1)) + 1;
        String line = code.substring(lineStart, at);
        if (line.matches("%%?[A-Za-z_]*")) { // a magic's name
            String prefix = line.replaceFirst("^%+", "");
            List<String> names = magics.names().stream()
                    .filter(n -> n.startsWith(prefix))
                    .sorted()
                    .toList();
            return new ReplacementOptions(names, at - prefix.length(), at);
        }
        int start = snippetStart(code, at);
        String snippet = code.substring(start);
        int[] anchor = new int[1];
        var suggestions = shell.sourceCodeAnalysis().completionSuggestions(snippet, at - start, anchor);
        var matches = new LinkedHashSet<String>();
        suggestions.stream()
                .filter(SourceCodeAnalysis.Suggestion::matchesType)
                .forEach(s -> matches.add(s.continuation()));
        suggestions.forEach(s -> matches.add(s.continuation()));
        return new ReplacementOptions(new ArrayList<>(matches), start + anchor[0], at);
    }

    /** Where the snippet holding {@code at} starts: JShell completes and documents one snippet at a time. */
    private int snippetStart(String code, int at) {
        SourceCodeAnalysis sca = shell.sourceCodeAnalysis();
        int start = 0;
        String rest = code;
        while (true) {
            var info = sca.analyzeCompletion(rest);
            if (!info.completeness().isComplete() || info.remaining().isBlank()) return start;
            int next = start + rest.length() - info.remaining().length();
            if (next >= at) return start;
            start = next;
            rest = info.remaining();
        }
    }

    @Override
    public DisplayData inspect(String code, int at, boolean detail) {
        int end = at;
        while (end < code.length() && Character.isJavaIdentifierPart(code.charAt(end))) end++;
        int begin = end;
        while (begin > 0 && Character.isJavaIdentifierPart(code.charAt(begin - 1))) begin--;
        String word = code.substring(begin, end);
        StringBuilder text = new StringBuilder();
        String verbDoc = Docs.verb(word);
        if (verbDoc != null) text.append(verbDoc);
        else if (word.startsWith("%") || (begin > 0 && code.charAt(begin - 1) == '%')) {
            String m = magics.help(word);
            if (m != null) text.append(m);
        }
        if (text.isEmpty()) {
            int start = snippetStart(code, begin);
            String snippet = code.substring(start, end);
            var sca = shell.sourceCodeAnalysis();
            var docs = sca.documentation(snippet, snippet.length(), true);
            if (docs.isEmpty()) docs = sca.documentation(snippet + "(", snippet.length() + 1, true);
            for (var d : docs) {
                text.append(d.signature()).append('\n');
                if (d.javadoc() != null && detail)
                    text.append(d.javadoc().strip()).append("\n\n");
                else if (d.javadoc() != null)
                    text.append(d.javadoc().strip().lines().findFirst().orElse(""))
                            .append("\n\n");
            }
        }
        if (text.isEmpty()) return null;
        return new DisplayData(text.toString().strip());
    }

    private String diagnostics(List<SnippetEvent> events) {
        if (events.isEmpty()) return "no events";
        return shell.diagnostics(events.get(0).snippet())
                .map(d -> d.getMessage(Locale.ROOT))
                .toList()
                .toString();
    }
}
