package io.lowbit.eval;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.lowbit.TestData;
import io.lowbit.model.Model;
import io.lowbit.model.Models;
import io.lowbit.model.Progress;
import java.util.List;
import org.junit.jupiter.api.Test;

/** MMLU's prompt, split and grouping. */
class MmluTest {
  @Test
  void thePromptIsHendrycksFormatWithTheTwoSpacesBeforeTheSubject() {
    var dev = new Mmlu.Question("high_school_physics", "What is 1+1?", List.of("1", "2", "3", "4"), 1);
    var q = new Mmlu.Question("high_school_physics", "What is 2+2?", List.of("3", "4", "5", "6"), 1);
    assertEquals("The following are multiple choice questions (with answers) about  high school physics.\n\n"
        + "What is 1+1?\nA. 1\nB. 2\nC. 3\nD. 4\nAnswer: B\n\n"
        + "What is 2+2?\nA. 3\nB. 4\nC. 5\nD. 6\nAnswer:", Mmlu.prompt("high_school_physics", List.of(dev), q));
  }

  @Test
  void theFilesParseIncludingQuotedFields() {
    io.lowbit.TestData.shared("mmlu");
    assertEquals(List.of(List.of("a, b", "say \"hi\"", "x\ny")), CsvFiles.parse("\"a, b\",\"say \"\"hi\"\"\",\"x\ny\"\n"));
    assertEquals(57, Mmlu.subjects().size());
    var dev = Mmlu.read("abstract_algebra", "dev");
    assertEquals(5, dev.size());
    assertEquals(1, dev.get(0).gold(), "B");
    for (String s : Mmlu.subjects()) assertTrue(Mmlu.GROUP.containsKey(s), s + " has a group");
    assertEquals("STEM", Mmlu.GROUP.get("college_physics"));
    assertEquals("humanities", Mmlu.GROUP.get("professional_law"));
    assertEquals("social sciences", Mmlu.GROUP.get("econometrics"));
  }

  @Test
  void stories260kAnswersTheLastQuarterOfEverySubject() {
    io.lowbit.TestData.shared("mmlu");
    try (Model m = Models.load(TestData.stories260K().toString())) {
      var r = Mmlu.run(m, 0.25, 2, Progress.NONE);
      assertEquals(57 * 2, r.n());
      assertTrue(r.accuracy() >= 0 && r.accuracy() <= 1);
      assertEquals(r.n(), (int) r.groups().values().stream().mapToDouble(g -> g[1]).sum(), "every question in one group");
    }
  }
}
