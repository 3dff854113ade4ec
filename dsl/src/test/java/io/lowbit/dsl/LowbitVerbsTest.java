package io.lowbit.dsl;

import static io.lowbit.dsl.Lowbit.eval;
import static io.lowbit.dsl.Lowbit.load;
import static io.lowbit.dsl.Lowbit.perplexity;
import static io.lowbit.dsl.Lowbit.tinystories;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.lowbit.TestData;
import io.lowbit.eval.Perplexity;
import io.lowbit.model.CheckpointException;
import io.lowbit.model.Model;
import io.lowbit.model.Progress;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The verbs a notebook user types: load, eval, perplexity, and tables that print themselves. */
class LowbitVerbsTest {
  @Test
  void loadAndEvalPerplexityGiveATable() {
    try (Model m = load(TestData.stories260K().getParent().toString())) {
      Table t = eval(m, perplexity(tinystories()).first(4));
      double fromTable = (Double) t.get(0, "value");
      double direct = Perplexity.of(m, "tinystories-val", tinystories().contents(), new Perplexity.Options(512, 2, 4), Progress.NONE)
          .perplexity();
      assertEquals(direct, fromTable, 1e-9, "the verb measures what Perplexity measures");
      String text = t.toString();
      assertTrue(text.contains("perplexity tinystories-val") && text.contains("4 × 512"), text);
      assertTrue(t.toHtml().startsWith("<table") && t.toHtml().contains("<th>value</th>"));
    }
  }

  @Test
  void loadExplainsWhatItCannotUse() {
    var e = assertThrows(CheckpointException.class, () -> load("no/such/model"));
    assertTrue(e.getMessage().contains("no such file"));
    var r = assertThrows(IllegalArgumentException.class, () -> load("random:gpt5"));
    assertTrue(r.getMessage().contains("random:llama3-8b"), r.getMessage());
  }

  @Test
  void tablesAlignNumbersAndEscapeHtml() {
    Table t = Table.of("t", List.of("name", "x"), List.of(List.of("<a>", 1.5), List.of("b", 12345.25)));
    assertEquals("t\nname           x\n----  ----------\n<a>       1.5000\nb     12345.2500\n", t.toString());
    assertTrue(t.toHtml().contains("&lt;a&gt;"));
    assertThrows(IllegalArgumentException.class, () -> Table.of("t", List.of("a"), List.of(List.of(1, 2))));
  }
}
