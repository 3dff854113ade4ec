package io.lowbit.eval;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.lowbit.TestData;
import io.lowbit.data.Calibration;
import io.lowbit.model.Llama2cTokenizer;
import io.lowbit.model.Tokenizer;
import java.util.Arrays;
import org.junit.jupiter.api.Test;

/**
 * Task calibration sets as TaCQ builds them (arXiv 2504.07389, App. D.5, Table 9): whole examples in
 * the paper's format, filled up to a token budget, seeded.
 */
class TaskCalibrationTest {
    static final Tokenizer TOK = Llama2cTokenizer.load(TestData.stories260KTokenizer(), 512);

    @Test
    void gsm8kExamplesAreExemplarsQuestionFullSolutionAndTheAnswerSentence() {
        TestData.shared("gsm8k/train.jsonl");
        Calibration c = TaskCalibration.gsm8k(TOK, 20 * 2048, 2048, 0);
        long tokens = c.tokens();
        assertTrue(tokens <= 20 * 2048 && tokens > 10 * 2048, "filled close to the budget: " + tokens);
        String first = TOK.decode(c.sequences().get(0));
        assertTrue(first.startsWith("Q: "), first.substring(0, 40));
        assertTrue(
                first.matches("(?s).*\\nA: .*####\\s*-?[0-9]+ The answer is -?[0-9]+\\.\\n\\n$"),
                "ends with the solution and its answer");
        assertEquals(9, first.split("\nA:", -1).length - 1, "8 exemplars and the train question");
        Calibration again = TaskCalibration.gsm8k(TOK, 20 * 2048, 2048, 0);
        assertTrue(Arrays.equals(c.sequences().get(3), again.sequences().get(3)), "seeded");
        Calibration other = TaskCalibration.gsm8k(TOK, 20 * 2048, 2048, 1);
        assertNotEquals(
                TOK.decode(c.sequences().get(0)), TOK.decode(other.sequences().get(0)));
    }

    @Test
    void longExamplesKeepBosAndTheirEnd() {
        TestData.shared("gsm8k/train.jsonl");
        Calibration c = TaskCalibration.gsm8k(TOK, 8 * 512, 512, 0);
        for (int[] s : c.sequences()) {
            assertTrue(s.length <= 512);
            assertEquals(1, s[0], "BOS first");
        }
        assertTrue(TOK.decode(c.sequences().get(0)).endsWith(".\n\n"));
    }

    @Test
    void mmluExamplesAreTheDevPromptAQuestionFromTheFirstThreeQuartersAndTheGoldLetter() {
        TestData.shared("mmlu/dev");
        Calibration c = TaskCalibration.mmlu(TOK, "STEM", 16 * 2048, 4096, 0);
        String first = TOK.decode(c.sequences().get(0));
        assertTrue(
                first.startsWith("The following are multiple choice questions (with answers) about"),
                first.substring(0, 60));
        assertTrue(first.matches("(?s).*\\nAnswer: [ABCD]$"), "ends with the gold letter");
        assertEquals(6, first.split("\nAnswer:", -1).length - 1, "5 dev examples and the question");
        assertTrue(c.tokens() <= 16 * 2048);
    }

    @Test
    void spiderExamplesAreCalibrationDatabasePromptsWithoutGoldSql() {
        TestData.shared("spider/dev.json");
        Calibration c = TaskCalibration.spider(TOK, 1_000_000, 2048, 0);
        java.util.Map<String, Spider.Schema> schemas = Spider.schemas();
        java.util.Set<String> calibrationPrompts = new java.util.HashSet<>();
        java.util.Set<String> evaluatedQuestions = new java.util.HashSet<>();
        for (Spider.Example e : Spider.examples()) {
            if (!Spider.CALIBRATION_DATABASES.contains(e.db())) evaluatedQuestions.add(e.question());
            else calibrationPrompts.add(Spider.prompt(TOK, e.question(), schemas.get(e.db())));
        }
        assertEquals(
                62 + 45 + 42 + 40 + 40, c.sequences().size(), "every question of the five databases fits the budget");
        java.util.Set<String> seen = new java.util.HashSet<>();
        for (int[] s : c.sequences()) {
            assertEquals(1, s[0], "BOS first");
            String text = TOK.decode(s);
            assertTrue(calibrationPrompts.contains(text), "a whole prompt of a calibration database: " + text);
            assertTrue(text.endsWith("\n### SQL:"), "the prompt ends before the SQL: the gold query is not in it");
            seen.add(text);
            for (String q : evaluatedQuestions)
                assertTrue(!text.contains("\n### " + q + "\n"), "an evaluated question: " + q);
        }
        assertEquals(calibrationPrompts.size(), seen.size(), "each prompt once");
        Calibration small = TaskCalibration.spider(TOK, 20 * 512, 512, 0);
        // every example is at most 512 tokens, so the one that did not fit stopped within 512 of the budget
        assertTrue(small.tokens() <= 20 * 512 && small.tokens() > 19 * 512, "filled to the budget: " + small.tokens());
        Calibration other = TaskCalibration.spider(TOK, 20 * 512, 512, 1);
        assertNotEquals(
                TOK.decode(small.sequences().get(0)),
                TOK.decode(other.sequences().get(0)),
                "seeded");
    }
}
