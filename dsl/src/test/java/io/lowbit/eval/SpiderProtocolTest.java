package io.lowbit.eval;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.lowbit.TestData;
import io.lowbit.model.Tokenizer;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * Spider's prompt and prediction as TaCQ's evaluation writes them (The-Inscrutable-X/TACQ,
 * datasets_directory/Spider): expected strings written out by hand from tables.json and dev.json.
 */
class SpiderProtocolTest {
    private static final String SYSTEM = "### Answer the question by sqlite SQL query only and with no explanation";

    /** A tokenizer that has only a chat template (prompts are text; nothing is encoded here). */
    private static class Templated implements Tokenizer {
        private final String template;

        Templated(String template) {
            this.template = template;
        }

        @Override
        public String chatTemplate() {
            return template;
        }

        public int[] encode(String text, boolean bos, boolean eos) {
            throw new UnsupportedOperationException();
        }

        public String decode(int[] ids) {
            throw new UnsupportedOperationException();
        }

        public int bos() {
            return 1;
        }

        public int eos() {
            return 2;
        }

        public int vocabSize() {
            return 3;
        }
    }

    @Test
    void plainPromptsOfThreeDevQuestionsAreTheProtocolsText() {
        TestData.shared("spider/tables.json");
        Map<String, Spider.Schema> s = Spider.schemas();
        Tokenizer plain = new Templated(null);
        assertEquals(
                SYSTEM + "\n### Sqlite SQL tables, with their properties:\n"
                        + "# singer(Singer_ID,Name,Birth_Year,Net_Worth_Millions,Citizenship);\n"
                        + "# song(Song_ID,Title,Singer_ID,Sales,Highest_Position);\n"
                        + "###\n### What is the count of singers?\n### SQL:",
                Spider.prompt(plain, "What is the count of singers?", s.get("singer")));
        assertEquals(
                SYSTEM + "\n### Sqlite SQL tables, with their properties:\n"
                        + "# poker_player(Poker_Player_ID,People_ID,Final_Table_Made,Best_Finish,Money_Rank,Earnings);\n"
                        + "# people(People_ID,Nationality,Name,Birth_Date,Height);\n"
                        + "###\n### Count the number of different nationalities.\n### SQL:",
                Spider.prompt(plain, "Count the number of different nationalities.", s.get("poker_player")));
        assertEquals(
                SYSTEM + "\n### Sqlite SQL tables, with their properties:\n"
                        + "# museum(Museum_ID,Name,Num_of_Staff,Open_Year);\n"
                        + "# visitor(ID,Name,Level_of_membership,Age);\n"
                        + "# visit(Museum_ID,visitor_ID,Num_of_Ticket,Total_spent);\n"
                        + "###\n### Find the number of visitors who did not visit any museum opened after 2010.\n### SQL:",
                Spider.prompt(
                        plain,
                        "Find the number of visitors who did not visit any museum opened after 2010.",
                        s.get("museum_visit")));
    }

    @Test
    void aLlama3TemplateGivesSystemUserAndTheAssistantHeader() {
        TestData.shared("spider/tables.json");
        Tokenizer llama3 =
                new Templated("{{ '<|begin_of_text|>' }}{% for m in messages %}<|start_header_id|>...{% endfor %}");
        assertEquals(
                "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\n" + SYSTEM + "<|eot_id|>"
                        + "<|start_header_id|>user<|end_header_id|>\n\n### Sqlite SQL tables, with their properties:\n"
                        + "# singer(Singer_ID,Name,Birth_Year,Net_Worth_Millions,Citizenship);\n"
                        + "# song(Song_ID,Title,Singer_ID,Sales,Highest_Position);\n"
                        + "###\n### What is the count of singers?\n### SQL:<|eot_id|>"
                        + "<|start_header_id|>assistant<|end_header_id|>\n\n",
                Spider.prompt(
                        llama3,
                        "What is the count of singers?",
                        Spider.schemas().get("singer")));
        Tokenizer chatml = new Templated("{% for m in messages %}<|im_start|>{{ m.role }}...{% endfor %}");
        assertEquals(
                "<|im_start|>system\n" + SYSTEM + "<|im_end|>\n<|im_start|>user\nU<|im_end|>\n<|im_start|>assistant\n",
                ChatPrompt.render(chatml, SYSTEM, "U"));
        assertThrows(
                IllegalArgumentException.class, () -> ChatPrompt.render(new Templated("[INST] {{ m }}"), SYSTEM, "U"));
    }

    @Test
    void theAssistantsTurnEndsAtItsEndOfTurnToken() {
        assertEquals(-1, ChatPrompt.endOfTurn(new Templated(null)));
        Tokenizer llama3 = new Templated("<|start_header_id|>") {
            @Override
            public int[] encode(String text, boolean bos, boolean eos) {
                return text.equals("<|eot_id|>") ? new int[] {128009} : new int[] {5, 6};
            }
        };
        assertEquals(128009, ChatPrompt.endOfTurn(llama3));
        assertArrayEquals(new int[] {7, 8}, Spider.upTo(new int[] {7, 8, 128009, 9}, 128009));
        assertArrayEquals(new int[] {7, 8}, Spider.upTo(new int[] {7, 8}, -1));
    }

    @Test
    void thePredictionIsTheTextUpToTheFirstSemicolonOnOneLine() {
        assertEquals("SELECT count(*) FROM singer;", Spider.prediction(" SELECT count(*)\nFROM singer; SELECT 2;"));
        assertEquals("SELECT a FROM t WHERE b = 1;", Spider.prediction("\n SELECT a\nFROM t\r\nWHERE b = 1 \n"));
        assertEquals(";", Spider.prediction("; DROP TABLE t"));
    }

    @Test
    void theSplitKeepsCalibrationDatabasesOutOfEvaluation() {
        TestData.shared("spider/dev.json");
        List<Spider.Example> all = Spider.examples();
        assertEquals(1034, all.size());
        List<Spider.Example> evaluated = Spider.select(Spider.Options.defaults());
        assertEquals(
                1034 - 62 - 45 - 42 - 40 - 40,
                evaluated.size(),
                "wta_1, concert_singer, pets_1, poker_player, orchestra left out");
        assertTrue(evaluated.stream().noneMatch(e -> Spider.CALIBRATION_DATABASES.contains(e.db())));
        assertEquals(
                1034,
                Spider.select(Spider.Options.defaults().split(Spider.Split.ALL)).size());
        List<Spider.Example> drawn = Spider.select(Spider.Options.defaults().limit(20));
        assertEquals(20, drawn.size());
        assertTrue(drawn.stream().map(Spider.Example::db).distinct().count() > 5, "a draw spreads over the databases");
        assertEquals(drawn, Spider.select(Spider.Options.defaults().limit(20)), "seeded");
    }

    @Test
    void aMissingDataFileIsNamedWithWhereItWasLookedFor(@org.junit.jupiter.api.io.TempDir java.nio.file.Path empty) {
        String root = System.getProperty("lowbit.root"), data = System.getProperty("lowbit.data");
        System.setProperty("lowbit.root", empty.toString());
        System.setProperty("lowbit.data", empty.toString());
        try {
            var e = assertThrows(IllegalArgumentException.class, Spider::examples);
            assertTrue(
                    e.getMessage().contains("'spider/dev.json' not found")
                            && e.getMessage().contains(empty.toString()),
                    e.getMessage());
            assertThrows(IllegalArgumentException.class, Spider::schemas);
        } finally {
            if (root == null) System.clearProperty("lowbit.root");
            else System.setProperty("lowbit.root", root);
            if (data == null) System.clearProperty("lowbit.data");
            else System.setProperty("lowbit.data", data);
        }
    }

    @Test
    void hardnessLevelsGiveTheOfficialDevCounts() {
        TestData.shared("spider/dev.json");
        // Spider's evaluation prints these per-level counts for the dev set: 248 easy, 446 medium, 174 hard, 166 extra
        Map<String, Long> n = new java.util.TreeMap<>();
        for (Spider.Example e : Spider.examples()) n.merge(e.hardness(), 1L, Long::sum);
        assertEquals(Map.of("easy", 248L, "medium", 446L, "hard", 174L, "extra", 166L), n);
    }
}
