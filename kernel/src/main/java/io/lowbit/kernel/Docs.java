package io.lowbit.kernel;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The DSL verbs' documentation, for inspection (Shift-Tab): read from the javadoc of
 * {@code Lowbit.java}, which the DSL jar carries as a resource. JShell can show signatures of any
 * class, but javadoc only for the JDK's own.
 */
final class Docs {
    private Docs() {}

    private static final Pattern VERB = Pattern.compile(
            "/\\*\\*((?:(?!\\*/).)*)\\*/\\s*public static (?:final )?([\\w.<>?, \\[\\]]+?) (\\w+)\\s*\\(([^)]*)\\)",
            Pattern.DOTALL);
    private static volatile Map<String, String> verbs;

    /** What {@code name} does and its forms, or null when it is not a verb. */
    static String verb(String name) {
        return verbs().get(name);
    }

    static Map<String, String> verbs() {
        if (verbs == null) verbs = parse(source());
        return verbs;
    }

    static Map<String, String> parse(String src) {
        Map<String, StringBuilder> out = new LinkedHashMap<>();
        Matcher m = VERB.matcher(src);
        while (m.find()) {
            String doc = clean(m.group(1));
            String signature =
                    m.group(3) + "(" + m.group(4).replaceAll("\\s+", " ").strip() + ") → "
                            + m.group(2).strip();
            out.computeIfAbsent(m.group(3), k -> new StringBuilder())
                    .append(signature)
                    .append('\n')
                    .append(doc.isEmpty() ? "" : indent(doc) + "\n")
                    .append('\n');
        }
        Map<String, String> result = new LinkedHashMap<>();
        out.forEach((k, v) -> result.put(k, v.toString().strip()));
        return result;
    }

    /** Javadoc as plain text: no leading stars, tags readable, code and links as their text. */
    static String clean(String javadoc) {
        String s = javadoc.lines()
                .map(l -> l.replaceFirst("^\\s*\\*\\s?", ""))
                .reduce((a, b) -> a + "\n" + b)
                .orElse("");
        s = s.replaceAll("\\{@(?:code|link|linkplain|literal) ([^}]*)}", "$1")
                .replaceAll("(?s)<pre>(.*?)</pre>", "$1")
                .replaceAll("</?p>", "")
                .replace("&lt;", "<")
                .replace("&gt;", ">")
                .replace("&amp;", "&");
        return s.strip();
    }

    private static String indent(String s) {
        return String.join("\n", s.lines().map(l -> "    " + l).toList());
    }

    static String source() {
        try (InputStream in = Docs.class.getResourceAsStream("/lowbit-docs/io/lowbit/dsl/Lowbit.java")) {
            return in == null ? "" : new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            return "";
        }
    }

    static List<String> names() {
        return List.copyOf(verbs().keySet());
    }
}
