package io.lowbit.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.lowbit.TestData;
import io.lowbit.torch.DType;
import io.lowbit.torch.Device;
import io.lowbit.torch.Scope;
import io.lowbit.torch.Torch;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Hugging Face folders: what is saved loads back identical, and a folder that lies is refused by name. */
class HfCheckpointTest {
    private static float[] logits(Model m, int... ids) {
        try (Scope s = Scope.open();
                var g = Torch.noGrad()) {
            return m.forward(m.tokens(ids), null).toFloatArray();
        }
    }

    @Test
    void randomLlamaAndQwen2SurviveSaveAndLoad(@TempDir Path dir) {
        for (String preset : List.of("tiny", "tiny-qwen2")) {
            for (DType dtype : List.of(DType.F32, DType.BF16)) {
                Path folder = dir.resolve(preset + "-" + dtype);
                try (Model m = RandomModel.create(preset, Device.defaultDevice(), dtype, 5)) {
                    Models.save(m, folder);
                    try (Model back = Models.load(folder.toString())) {
                        assertEquals(dtype, back.dtype(), "the stored dtype is kept");
                        assertEquals(m.config().withDtype(dtype), back.config().withDtype(dtype));
                        for (var e : m.weights().entrySet())
                            assertArrayEquals(
                                    e.getValue().toFloatArray(),
                                    back.weights().get(e.getKey()).toFloatArray(),
                                    0,
                                    e.getKey());
                        assertArrayEquals(
                                logits(m, 1, 7, 300, 42), logits(back, 1, 7, 300, 42), 0, preset + " " + dtype);
                    }
                }
            }
        }
    }

    @Test
    void savingTwiceWritesTheSameBytes(@TempDir Path dir) throws IOException {
        try (Model m = RandomModel.create("tiny-qwen2", Device.defaultDevice(), DType.F32, 3)) {
            Models.save(m, dir.resolve("a"));
            Models.save(m, dir.resolve("b"));
        }
        assertArrayEquals(
                Files.readAllBytes(dir.resolve("a/model.safetensors")),
                Files.readAllBytes(dir.resolve("b/model.safetensors")));
        assertEquals(Files.readString(dir.resolve("a/config.json")), Files.readString(dir.resolve("b/config.json")));
    }

    @Test
    void stories260kSavedAsHuggingFaceGeneratesTheSameStory(@TempDir Path dir) {
        try (Model m = Models.load(TestData.stories260K().toString())) {
            Models.save(m, dir);
            assertTrue(Files.isRegularFile(dir.resolve("tokenizer.bin"))
                    && Files.isRegularFile(dir.resolve("model.safetensors")));
            try (Model back = Models.load(dir.toString())) {
                var greedy = Generation.Options.greedy(40);
                assertEquals(
                        Generation.generate(m, "", greedy).text(),
                        Generation.generate(back, "", greedy).text());
                assertArrayEquals(logits(m, 1, 403, 407), logits(back, 1, 403, 407), 0);
            }
        }
    }

    /** Saves random:tiny, then lets {@code edit} spoil the folder; loading must fail naming {@code words}. */
    private static void refused(Path dir, String name, FolderEdit edit, String... words) throws IOException {
        Path folder = dir.resolve(name);
        try (Model m = RandomModel.create("tiny", Device.defaultDevice(), DType.F32, 1)) {
            Models.save(m, folder);
        }
        edit.apply(folder);
        io.lowbit.torch.TestHooks.settleCleaner();
        long before = Torch.liveTensors();
        CheckpointException e = assertThrows(CheckpointException.class, () -> Models.load(folder.toString()));
        for (String w : words) assertTrue(e.getMessage().contains(w), "'" + w + "' missing from: " + e.getMessage());
        io.lowbit.torch.TestHooks.settleCleaner();
        assertEquals(before, Torch.liveTensors(), "nothing half-loaded stays allocated");
    }

    interface FolderEdit {
        void apply(Path folder) throws IOException;
    }

    private static void replaceInConfig(Path folder, String from, String to) throws IOException {
        Path c = folder.resolve("config.json");
        String json = Files.readString(c);
        assertTrue(json.contains(from), json);
        Files.writeString(c, json.replace(from, to));
    }

    @Test
    void aConfigThatLiesAboutShapesNamesTheTensor(@TempDir Path dir) throws IOException {
        refused(
                dir,
                "hidden",
                f -> replaceInConfig(f, "\"intermediate_size\": 172", "\"intermediate_size\": 170"),
                "mlp.gate_proj.weight",
                "intermediate_size",
                "[172, 64]");
    }

    @Test
    void unsupportedArchitecturesAndRopeTypesNameTheField(@TempDir Path dir) throws IOException {
        refused(
                dir,
                "gpt2",
                f -> replaceInConfig(f, "\"model_type\": \"llama\"", "\"model_type\": \"gpt2\""),
                "config.json",
                "model_type",
                "gpt2");
        refused(
                dir,
                "yarn",
                f -> replaceInConfig(
                        f,
                        "\"rope_theta\"",
                        "\"rope_scaling\": {\"rope_type\": \"yarn\", \"factor\": 4}, \"rope_theta\""),
                "config.json",
                "rope_scaling.rope_type",
                "yarn");
        refused(
                dir,
                "nolayers",
                f -> replaceInConfig(f, "\"num_hidden_layers\": 2,", ""),
                "config.json",
                "num_hidden_layers",
                "missing");
    }

    @Test
    void missingAndTruncatedWeightsAreReported(@TempDir Path dir) throws IOException {
        refused(dir, "none", f -> Files.delete(f.resolve("model.safetensors")), "none");
        refused(
                dir,
                "cut",
                f -> {
                    Path w = f.resolve("model.safetensors");
                    byte[] b = Files.readAllBytes(w);
                    Files.write(w, java.util.Arrays.copyOf(b, b.length - 100));
                },
                "model.safetensors");
        refused(
                dir,
                "more-layers",
                f -> replaceInConfig(f, "\"num_hidden_layers\": 2", "\"num_hidden_layers\": 3"),
                "model.layers.2",
                "missing");
    }

    @Test
    void aConfigWithFewerLayersThanTheWeightsIsRefusedByName(@TempDir Path dir) throws IOException {
        // random:tiny has 2 layers; a config saying 1 would silently drop layer 1
        refused(
                dir,
                "fewer-layers",
                f -> replaceInConfig(f, "\"num_hidden_layers\": 2", "\"num_hidden_layers\": 1"),
                "num_hidden_layers 1",
                "model.layers.1.input_layernorm.weight",
                "does not account for");
    }

    @Test
    void zeroNegativeAndHugeDimensionsNameTheirFieldAndExactValue(@TempDir Path dir) throws IOException {
        refused(
                dir,
                "zero-heads",
                f -> replaceInConfig(f, "\"num_attention_heads\": 4", "\"num_attention_heads\": 0"),
                "num_attention_heads",
                "= 0",
                "at least 1");
        refused(
                dir,
                "zero-kv",
                f -> replaceInConfig(f, "\"num_key_value_heads\": 2", "\"num_key_value_heads\": 0"),
                "num_key_value_heads",
                "= 0");
        refused(
                dir,
                "negative",
                f -> replaceInConfig(f, "\"intermediate_size\": 172", "\"intermediate_size\": -172"),
                "intermediate_size",
                "-172",
                "not a non-negative integer");
        refused(
                dir,
                "huge",
                f -> replaceInConfig(f, "\"hidden_size\": 64", "\"hidden_size\": 1099511627776"),
                "hidden_size",
                "1099511627776",
                "larger than Lowbit supports");
        refused(
                dir,
                "fraction",
                f -> replaceInConfig(f, "\"vocab_size\": 512", "\"vocab_size\": 512.5"),
                "vocab_size",
                "512.5");
    }
}
