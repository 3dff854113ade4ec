package io.lowbit.eval;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.lowbit.model.HfTokenizer;
import io.lowbit.model.Model;
import io.lowbit.model.Models;
import io.lowbit.model.Progress;
import io.lowbit.model.RandomModel;
import io.lowbit.torch.DType;
import io.lowbit.torch.Device;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A random:tiny model saved as a Hugging Face folder with a tokenizer.json, evaluated through that path. */
class HfPathEvalTest {
    @Test
    void aSavedRandomModelWithTokenizerJsonEvaluates(@TempDir Path dir) throws IOException {
        try (Model m = RandomModel.create("tiny", Device.defaultDevice(), DType.F32, 3)) {
            Models.save(m, dir);
        }
        Files.writeString(dir.resolve("tokenizer.json"), io.lowbit.model.HfTokenizerTestAccess.wordLevelJson());
        try (Model m = Models.load(dir.toString())) {
            assertTrue(m.tokenizer() instanceof HfTokenizer);
            String text = "the cat sat on the mat . ".repeat(200);
            var p = Perplexity.of(m, "cats", text, new Perplexity.Options(64, 4, 0), Progress.NONE);
            // weights ~ N(0, 0.02²) make logits near 0: the model is close to uniform over its 512 tokens
            assertTrue(p.perplexity() > 400 && p.perplexity() < 650, "perplexity " + p.perplexity());
            var item = new MultipleChoice.Item(List.of("the cat sat on the"), List.of(" mat", " cat ."), 0);
            var r = MultipleChoice.score(m, MultipleChoice.Task.ARC_EASY, List.of(item, item), Progress.NONE);
            assertEquals(2, r.n());
            assertTrue(r.acc() == 0 || r.acc() == 1, "both copies of the item get the same answer");
        }
    }
}
