package io.lowbit.eval;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * GSM8K's prompt and answer extraction as TaCQ's evaluation script does them (The-Inscrutable-X/TACQ,
 * datasets_directory/GSM8k).
 */
class Gsm8kProtocolTest {
    @Test
    void extractionFollowsThePaper() {
        String[][] cases = {
            {"So 3 + 15 = 18. The answer is 18.", "18"},
            {"The answer is 18.0", "18.0"}, // a string, so 18.0 will not match 18
            {"the answer is 1,234 dollars.", "1234"}, // commas removed
            {"The answer is -3.", "-3"}, // negative; one trailing '.' stripped
            {"First 4, then 9 more, 13 in all", "13"}, // no phrase: the last number
            {"The answer is 5. Later I said 6.", "5"}, // the phrase: the first number after it
            {"The answer is unclear. 7 or 8", "7"},
            {"I cannot tell.", "[invalid]"},
            {"THE ANSWER IS 42", "42"}, // case-insensitive
            {"The answer is 2.5.", "2.5"},
        };
        for (String[] c : cases) assertEquals(c[1], Gsm8k.extract(c[0]), c[0]);
        assertNotEquals(new Gsm8k.Question("q", "#### 18").gold(), Gsm8k.extract("The answer is 18.0"));
        assertEquals("1000", new Gsm8k.Question("q", "She makes 1000.\n#### 1,000").gold());
    }

    @Test
    void thePromptHasTheEightExemplarsShuffledPerQuestion() {
        Random r = new Random(1);
        String a = Gsm8k.prompt("How many?", r), b = Gsm8k.prompt("How many?", r);
        assertTrue(a.startsWith("Q: ") && a.endsWith("\n\nQ: How many?\nA:"), a);
        assertEquals(9, a.split("Q: ", -1).length - 1, "8 exemplars and the question");
        assertTrue(
                a.contains("Q: Olivia has $23. She bought five bagels for $3 each. How much money does she have left?\n"
                        + "A: Olivia had 23 dollars. 5 bagels for 3 dollars each will be 5 x 3 = 15 dollars. So she has 23 - 15 dollars left. "
                        + "23 - 15 is 8. The answer is 8.\n\n"));
        assertNotEquals(a, b, "reshuffled for every question");
        assertEquals(a, Gsm8k.prompt("How many?", new Random(1)), "the same seed, the same order");
    }
}
