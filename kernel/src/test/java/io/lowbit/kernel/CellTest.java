package io.lowbit.kernel;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import io.lowbit.kernel.Cell.Java;
import io.lowbit.kernel.Cell.Magic;
import java.util.List;
import java.util.function.Predicate;
import org.junit.jupiter.api.Test;

/** How a cell is cut into Java and magics: a % is a magic only where a Java statement could start. */
class CellTest {
    /** Complete Java for these tests: balanced braces and no dangling operator at the end. */
    private static final Predicate<String> COMPLETE = s -> {
        String t = s.strip();
        return t.isEmpty()
                || (t.chars().filter(c -> c == '{').count()
                                == t.chars().filter(c -> c == '}').count()
                        && !t.endsWith("=")
                        && !t.matches("(?s).*[0-9a-z]$"));
    };

    @Test
    void aLineMagicSplitsTheJavaAroundIt() {
        Cell c = Cell.parse("int a = 1;\n%time int b = 2;\nint c = 3;", COMPLETE);
        assertEquals(
                List.of(new Java("int a = 1;\n", 1), new Magic("time", "int b = 2;", 2), new Java("int c = 3;\n", 3)),
                c.parts());
    }

    @Test
    void aCellMagicTakesTheWholeBody() {
        Cell c = Cell.parse("%%time\nint a = 1;\n%jvm", COMPLETE);
        assertEquals("time", c.cellMagic());
        assertEquals("int a = 1;\n%jvm", c.body());
    }

    @Test
    void theModuloOperatorContinuingAnExpressionIsJava() {
        Cell c = Cell.parse("int r = 10\n% 3;", COMPLETE);
        assertEquals(List.of(new Java("int r = 10\n% 3;\n", 1)), c.parts());
        assertNull(c.cellMagic());
    }

    @Test
    void percentInsideStringsTextBlocksAndCommentsIsJava() {
        for (String code : List.of(
                "System.out.printf(\"%d%%\", 5);",
                "String s = \"\"\"\n%time\n\"\"\";", "/* a comment\n%jvm\n*/ int x = 1;", "char c = '%';")) {
            Cell c = Cell.parse(code, COMPLETE);
            assertEquals(1, c.parts().size(), code);
            assertEquals(Java.class, c.parts().get(0).getClass(), code);
        }
    }

    @Test
    void codeAtLineStartsTracksMultiLineLiterals() {
        boolean[] code = Cell.codeAtLineStarts("a\n\"\"\"\nin block\n\"\"\";\n/*\nx\n*/\nb", 8);
        assertEquals(List.of(true, true, false, false, true, false, false, true), toList(code));
    }

    private static List<Boolean> toList(boolean[] b) {
        Boolean[] boxed = new Boolean[b.length];
        for (int i = 0; i < b.length; i++) boxed[i] = b[i];
        return List.of(boxed);
    }
}
