package io.lowbit.kernel;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.lowbit.dsl.Lowbit;
import java.lang.reflect.Modifier;
import java.util.Arrays;
import java.util.Map;
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
}
