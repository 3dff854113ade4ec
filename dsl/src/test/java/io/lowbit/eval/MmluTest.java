package io.lowbit.eval;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.lowbit.TestData;
import io.lowbit.model.Config;
import io.lowbit.model.Llama2cTokenizer;
import io.lowbit.model.Model;
import io.lowbit.model.Models;
import io.lowbit.model.Progress;
import io.lowbit.model.RandomModel;
import io.lowbit.torch.Device;
import java.util.List;
import org.junit.jupiter.api.Test;

/** MMLU's prompt, split and grouping. */
class MmluTest {
    @Test
    void thePromptIsHendrycksFormatWithTheTwoSpacesBeforeTheSubject() {
        var dev = new Mmlu.Question("high_school_physics", "What is 1+1?", List.of("1", "2", "3", "4"), 1);
        var q = new Mmlu.Question("high_school_physics", "What is 2+2?", List.of("3", "4", "5", "6"), 1);
        assertEquals(
                "The following are multiple choice questions (with answers) about  high school physics.\n\n"
                        + "What is 1+1?\nA. 1\nB. 2\nC. 3\nD. 4\nAnswer: B\n\n"
                        + "What is 2+2?\nA. 3\nB. 4\nC. 5\nD. 6\nAnswer:",
                Mmlu.prompt("high_school_physics", List.of(dev), q));
    }

    @Test
    void theFilesParseIncludingQuotedFields() {
        io.lowbit.TestData.shared("mmlu");
        assertEquals(
                List.of(List.of("a, b", "say \"hi\"", "x\ny")),
                CsvFiles.parse("\"a, b\",\"say \"\"hi\"\"\",\"x\ny\"\n"));
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
            assertEquals(
                    r.n(),
                    (int) r.groups().values().stream().mapToDouble(g -> g[1]).sum(),
                    "every question in one group");
        }
    }

    /**
     * The shared-prefix path (each subject's header and dev examples run once, then a row per
     * question with the answers as branches) gives what scoring every request whole gives: the same
     * letter and the same four log-likelihoods to 1e-5 (float32 noise is ~1e-6; a position off by one
     * or a branch that sees another moves them by ~1e-4). A random:tiny shape with a 1,024-token
     * context and the stand-in tokenizer, whose " A" is two tokens; and again with one-token answers
     * (read at the question's last position). Most prompts fit and share a prefix; some of
     * miscellaneous's do not, and run whole, cut from the left.
     */
    @Test
    void theSharedPrefixGivesTheSameLettersAndLogLikelihoodsAsWholePrompts() {
        io.lowbit.TestData.shared("mmlu");
        Config t = RandomModel.preset("tiny");
        Config c = new Config(
                t.architecture(),
                t.vocabSize(),
                t.hiddenSize(),
                t.intermediateSize(),
                t.numLayers(),
                t.numHeads(),
                t.numKvHeads(),
                t.headDim(),
                1024,
                t.ropeTheta(),
                t.ropeScaling(),
                t.rmsNormEps(),
                t.tieWordEmbeddings(),
                t.bosId(),
                t.eosId(),
                t.dtype());
        var tok = Llama2cTokenizer.load(TestData.stories260KTokenizer(), 512);
        try (Model m = RandomModel.create(c, "random:tiny-1024", Device.cpu(), 7, tok)) {
            assertEquals(null, Mmlu.letterTokens(m), "the stand-in tokenizer splits \" A\"");
            int shared = 0, cut = 0;
            for (int[] letters : new int[][] {null, {447, 368, 457, 455}})
                for (String subject : List.of("abstract_algebra", "miscellaneous", "world_religions")) {
                    List<Mmlu.Question> dev = Mmlu.read(subject, "dev").subList(0, 5),
                            test = Mmlu.read(subject, "test");
                    List<Mmlu.Question> eval = test.subList(test.size() * 3 / 4, test.size());
                    eval = eval.subList(0, Math.min(eval.size(), 40));
                    var requests = Mmlu.requests(tok, letters, subject, dev, eval);
                    double[][] fast = AnswerScores.score(m, requests);
                    List<LogLikelihood.Score> whole = LogLikelihood.score(
                            m, requests.stream().flatMap(List::stream).toList(), Progress.NONE);
                    for (int i = 0; i < requests.size(); i++) {
                        String at = subject + " question " + i + (letters == null ? "" : ", one-token answers");
                        double[] reference = new double[4];
                        for (int j = 0; j < 4; j++)
                            reference[j] = whole.get(4 * i + j).logLikelihood();
                        assertEquals(Mmlu.argmax(reference), Mmlu.argmax(fast[i]), at);
                        assertArrayEquals(reference, fast[i], 1e-5, at);
                        if (requests.get(i).get(0).context().length
                                        + requests.get(i).get(0).continuation().length
                                > 1024) cut++;
                        else shared++;
                    }
                }
            assertTrue(
                    shared > 0 && cut > 0,
                    "both kinds of prompt were compared: " + shared + " shared, " + cut + " cut");
        }
    }
}
