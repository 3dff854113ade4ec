package io.lowbit.eval;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.lowbit.TestData;
import io.lowbit.model.Generation;
import io.lowbit.model.Model;
import io.lowbit.model.Models;
import io.lowbit.model.Progress;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** A Spider pass on stories260K: batched greedy generation, each completion cut and executed. */
class SpiderRunTest {
    @Test
    void batchedCompletionsAreEachPromptsOwnAndEveryPredictionIsExecuted() {
        TestData.shared("spider/dev.json");
        try (Model m = Models.load(TestData.stories260K().toString())) {
            Spider.Options o =
                    Spider.Options.defaults().limit(6).maxNewTokens(12).batch(4);
            Spider.Result r = Spider.run(m, o, Progress.NONE);
            assertEquals(6, r.evaluated());
            assertEquals(0, r.skipped(), "wta_1 is a calibration database, out of the evaluated split");
            assertEquals(
                    r.evaluated(),
                    r.byDatabase().values().stream().mapToInt(c -> c[1]).sum());
            // a story model writes no SQL: every prediction fails to run, and none is right
            assertEquals(0, r.correct());
            assertEquals(6, r.errors() + r.timeouts() + r.tooManyRows());
            Map<String, Spider.Schema> schemas = Spider.schemas();
            int compared = 0;
            for (Spider.Record rec : r.records()) {
                assertEquals(Spider.prediction(rec.completion()), rec.predicted());
                // the prompt alone, unpadded, gives the same greedy tokens as inside a batch of four
                String prompt = Spider.prompt(
                        m.tokenizer(),
                        rec.example().question(),
                        schemas.get(rec.example().db()));
                int room = m.config().maxPositions() - 12;
                int[] ids = m.tokenizer().encode(prompt, true, false);
                if (ids.length > room) continue; // a prompt cut from the left to fit the context
                compared++;
                var alone = Generation.generateTokens(
                        m, new int[][] {ids}, Generation.Options.greedy(12).withStop(";"));
                assertEquals(
                        m.tokenizer().decode(alone.tokens()[0]),
                        rec.completion(),
                        rec.example().question());
            }
            assertEquals(r.evaluated() - r.truncated(), compared, "the prompts not cut were all compared");
            assertTrue(compared > 0);
        }
    }
}
