package io.lowbit.dsl;

import static io.lowbit.dsl.Lowbit.GPTQ;
import static io.lowbit.dsl.Lowbit.RTN;
import static io.lowbit.dsl.Lowbit.bits;
import static io.lowbit.dsl.Lowbit.calibrate;
import static io.lowbit.dsl.Lowbit.eval;
import static io.lowbit.dsl.Lowbit.quantize;
import static io.lowbit.dsl.Lowbit.summary;
import static io.lowbit.dsl.Lowbit.text;
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
  void quantizeReadsLikeThePaperAndReportsItsCost() {
    try (Model m = load(TestData.stories260K().toString())) {
      var cal = calibrate(m, text("text/tinystories_train_excerpt.txt"), 8, 512);
      assertEquals(8, cal.sequences().size());
      try (var g = quantize(m, bits(3).groups(32), GPTQ, cal); var r = quantize(m, bits(3).groups(32), RTN)) {
        Table s = summary(g, r);
        assertEquals("GPTQ", s.get(0, "method"));
        assertEquals("W3 g32", s.get(1, "grid"));
        assertEquals(3.0, (Double) s.get(0, "bits (papers)"), 0);
        assertTrue((Double) s.get(0, "bits (storage)") > 3.5, "scales and zeros of every 32 weights cost about 0.6 bits");
        Table e = eval(g, perplexity(tinystories()).first(2));
        assertTrue(((String) e.get(0, "model")).contains("GPTQ W3 g32"), e.toString());
      }
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
