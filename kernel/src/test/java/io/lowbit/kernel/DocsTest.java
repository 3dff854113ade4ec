package io.lowbit.kernel;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.lowbit.dsl.Lowbit;
import java.lang.reflect.Modifier;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import jdk.jshell.JShell;
import jdk.jshell.Snippet;
import jdk.jshell.SnippetEvent;
import org.junit.jupiter.api.Test;

/** Shift-Tab on a DSL verb shows what it does: every public verb has documentation, read from its javadoc. */
class DocsTest {
    @Test
    void everyPublicVerbIsDocumented() {
        Map<String, String> docs = Docs.verbs();
        Arrays.stream(Lowbit.class.getMethods())
                .filter(m -> m.getDeclaringClass() == Lowbit.class && Modifier.isStatic(m.getModifiers()))
                .filter(m -> !m.getName().equals("setProgress"))
                .forEach(m -> assertNotNull(docs.get(m.getName()), "no documentation for the verb " + m.getName()));
    }

    @Test
    void aVerbsDocumentationHasItsSignatureAndItsJavadocAsText() {
        Map<String, String> docs = Docs.parse("""
        /** Loads a {@code model}: see {@link Foo#bar}. */
        public static Model load(String spec) {}
        /** Not this one. */
        public record Text(String name) {}
        public static int undocumented(int a) {}
        """);
        assertEquals("load(String spec) → Model\n    Loads a model: see Foo#bar.", docs.get("load"));
        assertTrue(!docs.containsKey("Text") && !docs.containsKey("undocumented"));
    }

    /**
     * Every example in the verbs' javadoc is real API that a notebook can type: each compiles in a
     * JShell that has only the kernel's prelude, given the names the examples use for earlier results.
     */
    @Test
    void everyExampleInTheVerbsDocumentationCompilesInANotebook() {
        List<String> examples = examples(Docs.source());
        assertTrue(examples.size() > 40, "examples found: " + examples);
        List<String> failures = new ArrayList<>();
        try (JShell shell = Engine.create(List.of("-parameters"))) {
            for (String p : LowbitKernel.PRELUDE) assertValid(shell, p);
            for (String earlier : List.of(
                    "Model m = null;",
                    "QuantizedModel q = null;",
                    "QuantizedModel r = null;",
                    "QuantizedModel tq = null;",
                    "Calibration cal = null;",
                    "Scores s = null;",
                    "Task task = null;",
                    "List<Double> ys = null;")) assertValid(shell, earlier);
            for (int i = 0; i < examples.size(); i++) {
                String code = examples.get(i).strip();
                // a method is compiled, not run: no model is loaded
                List<SnippetEvent> events =
                        shell.eval("void example" + i + "() {\n" + (code.endsWith(";") ? code : code + ";") + "\n}");
                Snippet.Status status = events.get(0).status();
                if (status != Snippet.Status.VALID)
                    failures.add(code + " -> " + status + " "
                            + shell.diagnostics(events.get(0).snippet())
                                    .map(d -> d.getMessage(Locale.ROOT))
                                    .toList() + " "
                            + shell.unresolvedDependencies((jdk.jshell.DeclarationSnippet)
                                            events.get(0).snippet())
                                    .toList());
            }
        }
        assertEquals(List.of(), failures);
    }

    private static void assertValid(JShell shell, String code) {
        List<SnippetEvent> events = shell.eval(code);
        assertEquals(Snippet.Status.VALID, events.get(0).status(), code);
    }

    private static final Pattern JAVADOC = Pattern.compile("/\\*\\*(.*?)\\*/", Pattern.DOTALL);

    /** The {@code ...} spans of every javadoc comment that are calls (not names, not ".option(...)" fragments). */
    static List<String> examples(String source) {
        List<String> out = new ArrayList<>();
        Matcher m = JAVADOC.matcher(source);
        while (m.find()) {
            String doc = String.join(
                    "\n",
                    m.group(1)
                            .lines()
                            .map(l -> l.replaceFirst("^\\s*\\*\\s?", ""))
                            .toList());
            for (int at = doc.indexOf("{@code"); at >= 0; at = doc.indexOf("{@code", at + 1)) {
                int depth = 0, end = at;
                for (; end < doc.length(); end++) { // the closing brace that balances {@code
                    if (doc.charAt(end) == '{') depth++;
                    else if (doc.charAt(end) == '}' && --depth == 0) break;
                }
                String code = doc.substring(at + "{@code".length(), end).strip();
                if (code.contains("(") && !code.startsWith(".")) out.add(code);
            }
        }
        return out;
    }

    @Test
    void examplesAreTheCallsInCodeSpansWithTheirBracesAndLinesWhole() {
        String src = """
        /**
         * Keep {@code n}; try {@code f(Map.of("a", 1)).g()} or {@code .h(2)}.
         * <pre>{@code
         * var x = f(1);
         * }</pre>
         */
        """;
        assertEquals(List.of("f(Map.of(\"a\", 1)).g()", "var x = f(1);"), examples(src));
    }
}
