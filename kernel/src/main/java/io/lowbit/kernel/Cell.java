package io.lowbit.kernel;

import java.util.ArrayList;
import java.util.List;
import java.util.function.Predicate;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A cell cut into Java and magics. A magic is {@code %name} at the very start of a line, where a
 * new Java statement could begin: not inside a string, text block, char literal or comment, and
 * not continuing an unfinished expression (so {@code 10\n% 3} and {@code printf("%d")} stay Java).
 * {@code %%name} on the first line makes the whole cell that magic's body.
 */
record Cell(List<Part> parts, String cellMagic, String cellMagicArgs, String body) {

    /** A piece of the cell: Java source (with the cell line it starts on), or one line magic. */
    sealed interface Part permits Java, Magic {}

    record Java(String source, int firstLine) implements Part {}

    record Magic(String name, String args, int line) implements Part {}

    private static final Pattern MAGIC = Pattern.compile("%([A-Za-z_][A-Za-z0-9_]*)(?:[ \\t]+(.*))?");

    /**
     * Cuts {@code cell}. {@code complete} says whether a piece of Java is a complete sequence of
     * statements: a magic may only follow complete Java. Java never starts a statement with
     * {@code %}, so a name that is not a magic is reported as such, not compiled.
     */
    static Cell parse(String cell, Predicate<String> complete) {
        String first = cell.lines().findFirst().orElse("");
        if (first.startsWith("%%")) {
            Matcher m = MAGIC.matcher(first.substring(1).strip());
            if (m.matches()) {
                String body = cell.indexOf('\n') < 0 ? "" : cell.substring(cell.indexOf('\n') + 1);
                return new Cell(
                        List.of(),
                        m.group(1),
                        m.group(2) == null ? "" : m.group(2).strip(),
                        body);
            }
        }
        List<Part> parts = new ArrayList<>();
        String[] lines = cell.split("\n", -1);
        boolean[] codeAtStart = codeAtLineStarts(cell, lines.length);
        StringBuilder java = new StringBuilder();
        int javaStart = 1;
        for (int i = 0; i < lines.length; i++) {
            Matcher m = MAGIC.matcher(lines[i].stripTrailing());
            if (codeAtStart[i] && lines[i].startsWith("%") && m.matches() && complete.test(java.toString())) {
                if (!java.toString().isBlank()) parts.add(new Java(java.toString(), javaStart));
                java.setLength(0);
                parts.add(new Magic(
                        m.group(1), m.group(2) == null ? "" : m.group(2).strip(), i + 1));
                javaStart = i + 2;
                continue;
            }
            if (java.isEmpty() && lines[i].isBlank()) {
                javaStart = i + 2;
                continue;
            }
            java.append(lines[i]).append('\n');
        }
        if (!java.toString().isBlank()) parts.add(new Java(java.toString(), javaStart));
        return new Cell(parts, null, null, null);
    }

    /** For each line: does it start outside strings, text blocks, char literals and comments? */
    static boolean[] codeAtLineStarts(String s, int lines) {
        boolean[] code = new boolean[lines];
        int line = 0;
        code[0] = true;
        int i = 0;
        int n = s.length();
        while (i < n) {
            char c = s.charAt(i);
            if (c == '\n') {
                line++;
                if (line < lines) code[line] = true;
                i++;
            } else if (s.startsWith("//", i)) {
                while (i < n && s.charAt(i) != '\n') i++;
            } else if (s.startsWith("/*", i)) {
                int end = s.indexOf("*/", i + 2);
                end = end < 0 ? n : end + 2;
                line = markInside(s, i, end, code, line);
                i = end;
            } else if (s.startsWith("\"\"\"", i)) {
                int j = i + 3;
                while (j < n && !(s.startsWith("\"\"\"", j) && !escaped(s, j))) j++;
                int end = Math.min(n, j + 3);
                line = markInside(s, i, end, code, line);
                i = end;
            } else if (c == '"' || c == '\'') {
                int j = i + 1;
                while (j < n && s.charAt(j) != '\n' && !(s.charAt(j) == c && !escaped(s, j))) j++;
                i = j < n && s.charAt(j) == c ? j + 1 : j;
            } else {
                i++;
            }
        }
        return code;
    }

    private static int markInside(String s, int from, int to, boolean[] code, int line) {
        for (int k = from; k < to; k++) {
            if (s.charAt(k) == '\n') {
                line++;
                if (line < code.length) code[line] = false;
            }
        }
        return line;
    }

    private static boolean escaped(String s, int at) {
        int backslashes = 0;
        for (int k = at - 1; k >= 0 && s.charAt(k) == '\\'; k--) backslashes++;
        return backslashes % 2 == 1;
    }
}
