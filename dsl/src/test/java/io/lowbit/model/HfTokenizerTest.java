package io.lowbit.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Hugging Face tokenizers written by hand: a word-level one and a Llama-style BPE with a metaspace. The ids expected
 * come straight from the vocabularies and merges below.
 */
class HfTokenizerTest {
    static final String SPECIALS = """
        "added_tokens": [
          {"id": 0, "content": "<unk>", "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": true},
          {"id": 1, "content": "<s>", "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": true},
          {"id": 2, "content": "</s>", "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": true}
        ],
      """;

    /** Puts BOS in front of every sequence, as Llama's tokenizer.json does; HfTokenizer must not let it. */
    static final String BOS_TEMPLATE = """
        "post_processor": {
          "type": "TemplateProcessing",
          "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
          "pair": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                   {"Sequence": {"id": "B", "type_id": 1}}],
          "special_tokens": {"<s>": {"id": "<s>", "ids": [1], "tokens": ["<s>"]}}
        },
      """;

    /** Whole words split at whitespace and punctuation; decoding joins the words with single spaces. */
    static final String WORD_LEVEL = "{\n  \"version\": \"1.0\", \"truncation\": null, \"padding\": null,\n" + SPECIALS
            + """
        "normalizer": null,
        "pre_tokenizer": {"type": "Whitespace"},
      """ + BOS_TEMPLATE + """
        "decoder": null,
        "model": {
          "type": "WordLevel",
          "vocab": {"<unk>": 0, "<s>": 1, "</s>": 2, "the": 3, "cat": 4, "sat": 5, "on": 6, "mat": 7, ".": 8},
          "unk_token": "<unk>"
        }
      }
      """;

    /**
     * Llama-style: spaces become ▁, one is put in front, and the text is split before each ▁. Merges by rank: "a"+"b",
     * then "▁"+"ab", then "c"+"c".
     */
    static final String BPE = "{\n  \"version\": \"1.0\", \"truncation\": null, \"padding\": null,\n" + SPECIALS + """
        "normalizer": null,
        "pre_tokenizer": {"type": "Metaspace", "replacement": "▁", "prepend_scheme": "always", "split": true},
      """
            + BOS_TEMPLATE + """
        "decoder": {"type": "Metaspace", "replacement": "▁", "prepend_scheme": "always", "split": true},
        "model": {
          "type": "BPE", "dropout": null, "unk_token": "<unk>", "continuing_subword_prefix": null,
          "end_of_word_suffix": null, "fuse_unk": false, "byte_fallback": false, "ignore_merges": false,
          "vocab": {"<unk>": 0, "<s>": 1, "</s>": 2, "▁": 3, "a": 4, "b": 5, "c": 6, "ab": 7, "▁ab": 8, "cc": 9},
          "merges": ["a b", "▁ ab", "c c"]
        }
      }
      """;

    static Path write(Path dir, String name, String text) throws IOException {
        Files.createDirectories(dir);
        return Files.writeString(dir.resolve(name), text);
    }

    @Test
    void wordLevelIdsAreTheVocabularysAndBosEosComeOnlyWhenAsked(@TempDir Path dir) throws IOException {
        Path file = write(dir, "tokenizer.json", WORD_LEVEL);
        try (HfTokenizer tok = HfTokenizer.load(file, 1, 2)) {
            assertArrayEquals(new int[] {3, 4, 5, 6, 3, 7, 8}, tok.encode("the cat sat on the mat.", false, false));
            assertArrayEquals(new int[] {1, 3, 4}, tok.encode("the cat", true, false));
            assertArrayEquals(new int[] {3, 4, 2}, tok.encode("the cat", false, true));
            assertArrayEquals(new int[] {1, 3, 4, 2}, tok.encode("the  cat", true, true));
            assertArrayEquals(new int[] {3, 0, 5}, tok.encode("the dog sat", false, false)); // unknown word
            assertArrayEquals(new int[0], tok.encode("", false, false));
            assertEquals(1, tok.bos());
            assertEquals(2, tok.eos());
            assertEquals(9, tok.vocabSize());

            String text = "the cat sat on the mat";
            assertEquals(text, tok.decode(tok.encode(text, true, true)));
            assertEquals("cat mat", tok.decode(new int[] {1, 4, 0, 7, 2})); // specials, <unk> among them, are skipped
            assertEquals("cat mat", tok.decode(new int[] {4, 999, 7})); // the library skips ids it does not know
        }
    }

    @Test
    void theTokenizersOwnTemplateWouldAddBosSoTheTestAboveMeansSomething(@TempDir Path dir) throws IOException {
        Path file = write(dir, "tokenizer.json", WORD_LEVEL);
        try (HfTokenizer ours = HfTokenizer.load(file, 1, 2);
                HuggingFaceTokenizer plain = HuggingFaceTokenizer.newInstance(file, Map.of("truncation", "false"))) {
            assertArrayEquals(new long[] {1, 3, 4}, plain.encode("the cat").getIds());
            assertArrayEquals(new int[] {3, 4}, ours.encode("the cat", false, false));
        }
    }

    @Test
    void bpeMergesByRankAndTheMetaspaceRoundTrips(@TempDir Path dir) throws IOException {
        Path file = write(dir, "tokenizer.json", BPE);
        try (HfTokenizer tok = HfTokenizer.load(dir, 1, 2)) { // the folder works as well as the file
            assertEquals(file, tok.file());
            // "▁ab": a+b, then ▁+ab; "▁c" has no merge; "▁ccc": c+c leftmost, then a lone c
            assertArrayEquals(new int[] {8, 3, 6}, tok.encode("ab c", false, false));
            assertArrayEquals(new int[] {1, 3, 9, 6, 8, 2}, tok.encode("ccc ab", true, true));
            assertArrayEquals(new int[] {3, 4, 3, 5}, tok.encode("a b", false, false));
            for (String text : new String[] {"ab c", "ccc ab", "a b", "abcabc", "c"}) {
                assertEquals(text, tok.decode(tok.encode(text, true, true)), text);
                assertEquals(text, tok.decode(tok.encode(text, false, false)), text);
            }
        }
    }

    @Test
    void bosAndEosComeFromTokenizerConfigThenConfigThenTheArguments(@TempDir Path dir) throws IOException {
        // tokenizer_config.json names the tokens (a string, or an object with "content"); it beats the arguments
        Path a = dir.resolve("a");
        write(a, "tokenizer.json", WORD_LEVEL);
        write(a, "tokenizer_config.json", """
        {"bos_token": "</s>", "eos_token": {"content": "<s>", "special": true}}""");
        try (HfTokenizer tok = HfTokenizer.load(a, 7, 8)) {
            assertEquals(2, tok.bos());
            assertEquals(1, tok.eos());
            assertArrayEquals(new int[] {2, 4, 1}, tok.encode("cat", true, true));
        }

        // config.json gives ids (eos may be a list: the first counts) and the model's vocab size
        Path b = dir.resolve("b");
        write(b, "tokenizer.json", WORD_LEVEL);
        write(b, "config.json", """
        {"bos_token_id": 5, "eos_token_id": [6, 7], "vocab_size": 32}""");
        try (HfTokenizer tok = HfTokenizer.load(b.resolve("tokenizer.json"), 1, 2)) {
            assertEquals(5, tok.bos());
            assertEquals(6, tok.eos());
            assertEquals(32, tok.vocabSize());
        }

        // neither file: the arguments; none at all: -1, and encoding with it is refused
        Path c = dir.resolve("c");
        write(c, "tokenizer.json", WORD_LEVEL);
        try (HfTokenizer tok = HfTokenizer.load(c, 1, 2)) {
            assertEquals(1, tok.bos());
            assertEquals(2, tok.eos());
        }
        try (HfTokenizer tok = HfTokenizer.load(c, null, null)) {
            assertEquals(-1, tok.bos());
            assertEquals(-1, tok.eos());
            assertArrayEquals(new int[] {4}, tok.encode("cat", false, false));
            IllegalStateException e = assertThrows(IllegalStateException.class, () -> tok.encode("cat", true, false));
            assertTrue(e.getMessage().contains("BOS"), e.getMessage());
            assertThrows(IllegalStateException.class, () -> tok.encode("cat", false, true));
        }
    }

    @Test
    void theChatTemplateComesFromTokenizerConfigAsAStringOrTheDefaultOfAList(@TempDir Path dir) throws IOException {
        write(dir.resolve("a"), "tokenizer.json", WORD_LEVEL);
        write(dir.resolve("a"), "tokenizer_config.json", """
        {"chat_template": "{{ bos_token }}{% for m in messages %}{{ m.content }}{% endfor %}"}""");
        try (HfTokenizer tok = HfTokenizer.load(dir.resolve("a"), 1, 2)) {
            assertEquals("{{ bos_token }}{% for m in messages %}{{ m.content }}{% endfor %}", tok.chatTemplate());
        }
        write(dir.resolve("b"), "tokenizer.json", WORD_LEVEL);
        write(dir.resolve("b"), "tokenizer_config.json", """
        {"chat_template": [{"name": "tool_use", "template": "T"}, {"name": "default", "template": "D"}]}""");
        try (HfTokenizer tok = HfTokenizer.load(dir.resolve("b"), 1, 2)) {
            assertEquals("D", tok.chatTemplate());
        }
        write(dir.resolve("c"), "tokenizer.json", WORD_LEVEL);
        try (HfTokenizer tok = HfTokenizer.load(dir.resolve("c"), 1, 2)) {
            assertEquals(null, tok.chatTemplate());
        }
    }

    @Test
    void missingCorruptAndUnknownTokenizersAreRefusedNamingTheFile(@TempDir Path dir) throws IOException {
        CheckpointException e = assertThrows(CheckpointException.class, () -> HfTokenizer.load(dir, 1, 2));
        assertTrue(
                e.getMessage().contains(dir.resolve("tokenizer.json").toString())
                        && e.getMessage().contains("not found"),
                e.getMessage());
        Path missing = dir.resolve("nope.json");
        e = assertThrows(CheckpointException.class, () -> HfTokenizer.load(missing, 1, 2));
        assertTrue(e.getMessage().contains("nope.json"), e.getMessage());

        Path corrupt =
                write(dir.resolve("corrupt"), "tokenizer.json", WORD_LEVEL.substring(0, WORD_LEVEL.length() / 2));
        e = assertThrows(CheckpointException.class, () -> HfTokenizer.load(corrupt, 1, 2));
        assertTrue(
                e.getMessage().contains(corrupt.toString()) && e.getMessage().contains("not valid JSON"),
                e.getMessage());

        Path noModel = write(dir.resolve("nomodel"), "tokenizer.json", "{\"version\": \"1.0\"}");
        e = assertThrows(CheckpointException.class, () -> HfTokenizer.load(noModel, 1, 2));
        assertTrue(e.getMessage().contains(noModel.toString()) && e.getMessage().contains("model"), e.getMessage());

        // well-formed JSON that the tokenizers library does not accept: its reason comes along
        Path unknown =
                write(dir.resolve("unknown"), "tokenizer.json", WORD_LEVEL.replace("\"WordLevel\"", "\"NoSuchModel\""));
        e = assertThrows(CheckpointException.class, () -> HfTokenizer.load(unknown, 1, 2));
        System.out.println("unknown model type: " + e.getMessage());
        assertTrue(e.getMessage().contains(unknown.toString()), e.getMessage());

        Path badConfig = dir.resolve("badconfig");
        write(badConfig, "tokenizer.json", WORD_LEVEL);
        write(badConfig, "tokenizer_config.json", "{\"bos_token\": \"<nope>\"}");
        e = assertThrows(CheckpointException.class, () -> HfTokenizer.load(badConfig, 1, 2));
        assertTrue(e.getMessage().contains("<nope>"), e.getMessage());
    }

    @Test
    void aClosedTokenizerSaysSo(@TempDir Path dir) throws IOException {
        HfTokenizer tok = HfTokenizer.load(write(dir, "tokenizer.json", WORD_LEVEL), 1, 2);
        tok.close();
        tok.close(); // twice is fine
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> tok.encode("cat", false, false));
        assertTrue(e.getMessage().contains("closed"), e.getMessage());
    }
}
