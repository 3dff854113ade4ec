package io.lowbit.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * llama2.c's tokenizer on stories260K's tok512.bin: the priority-queue encoder gives exactly the ids of llama2.c's
 * plain quadratic merge loop (written out again below from the file's bytes), and decoding gives the text back.
 */
class Llama2cTokenizerTest {
    static Path data;
    static Path tok512;
    static Llama2cTokenizer tok;
    static Reference ref;
    static String stories;

    @BeforeAll
    static void load() throws IOException {
        data = io.lowbit.TestData.root().resolve("data"); // shipped with Lowbit
        tok512 = data.resolve("models/stories260K/tok512.bin");
        tok = Llama2cTokenizer.load(tok512, 512);
        ref = new Reference(tok512);
        stories = Files.readString(data.resolve("text/tinystories_val.txt"), StandardCharsets.UTF_8);
    }

    /**
     * llama2.c's encoder as it reads: a dummy space, characters to tokens or bytes+3, then one scan over all adjacent
     * pairs per merge, taking the strictly best score (so the leftmost on ties). Vocabulary read from the file here.
     */
    static final class Reference {
        final List<byte[]> pieces = new ArrayList<>();
        final List<Float> scores = new ArrayList<>();
        final Map<String, Integer> ids = new HashMap<>();

        Reference(Path file) throws IOException {
            ByteBuffer in = ByteBuffer.wrap(Files.readAllBytes(file)).order(ByteOrder.LITTLE_ENDIAN);
            in.getInt(); // max token length
            while (in.hasRemaining()) {
                scores.add(in.getFloat());
                byte[] piece = new byte[in.getInt()];
                in.get(piece);
                ids.putIfAbsent(key(piece), pieces.size());
                pieces.add(piece);
            }
        }

        static String key(byte[] bytes) {
            return Arrays.toString(bytes);
        }

        int[] encode(String text) {
            List<Integer> t = new ArrayList<>();
            if (text.isEmpty()) return new int[0];
            (" " + text).codePoints().forEach(cp -> {
                byte[] utf8 = Character.toString(cp).getBytes(StandardCharsets.UTF_8);
                Integer id = ids.get(key(utf8));
                if (id != null) {
                    t.add(id);
                } else {
                    for (byte b : utf8) t.add((b & 0xFF) + 3);
                }
            });
            while (true) {
                float best = Float.NEGATIVE_INFINITY;
                int bestAt = -1, bestId = -1;
                for (int i = 0; i + 1 < t.size(); i++) {
                    byte[] a = pieces.get(t.get(i)), b = pieces.get(t.get(i + 1));
                    byte[] ab = Arrays.copyOf(a, a.length + b.length);
                    System.arraycopy(b, 0, ab, a.length, b.length);
                    Integer id = ids.get(key(ab));
                    if (id != null && (bestAt < 0 || scores.get(id) > best)) {
                        best = scores.get(id);
                        bestAt = i;
                        bestId = id;
                    }
                }
                if (bestAt < 0) break;
                t.set(bestAt, bestId);
                t.remove(bestAt + 1);
            }
            return t.stream().mapToInt(Integer::intValue).toArray();
        }
    }

    void agreesWithReferenceAndRoundTrips(String text) {
        int[] ids = tok.encode(text, false, false);
        assertArrayEquals(ref.encode(text), ids, () -> "ids of " + show(text));
        assertEquals(text, tok.decode(ids), () -> "decode(encode(" + show(text) + "))");
        int[] withBoth = tok.encode(text, true, true);
        assertEquals(text, tok.decode(withBoth), () -> "decode(encode(" + show(text) + ", bos, eos))");
    }

    static String show(String s) {
        return '"' + (s.length() > 80 ? s.substring(0, 80) + "..." : s).replace("\n", "\\n") + '"';
    }

    @Test
    void headerAndSpecialTokensAreLlama2cs() {
        assertEquals(512, tok.vocabSize());
        assertEquals(1, tok.bos());
        assertEquals(2, tok.eos());
        assertEquals("<unk>", tok.piece(0));
        assertEquals("\n<s>\n", tok.piece(1));
        assertEquals("\n</s>\n", tok.piece(2));
        assertEquals(7, tok.maxTokenLength());
    }

    @Test
    void byteTokenOfByteBIsIdBPlusThree() {
        for (int b = 0; b < 256; b++) assertEquals(String.format("<0x%02X>", b), tok.piece(b + 3));
        // U+1F600 is not in the vocabulary: its four UTF-8 bytes F0 9F 98 80 become ids byte+3, after the dummy space
        // 410
        assertArrayEquals(
                new int[] {410, 0xF0 + 3, 0x9F + 3, 0x98 + 3, 0x80 + 3}, tok.encode("\uD83D\uDE00", false, false));
        assertEquals("\uD83D\uDE00", tok.decode(new int[] {410, 243, 162, 155, 131}));
    }

    @Test
    void onceUponATimeIsFourWordTokensAfterBos() {
        int[] ids = tok.encode("Once upon a time", true, false);
        List<String> pieces = Arrays.stream(ids).mapToObj(tok::piece).toList();
        System.out.println("Once upon a time -> " + Arrays.toString(ids) + " "
                + pieces.stream().map(Llama2cTokenizerTest::show).toList());
        // ids worked out by hand with a separate script following llama2.c's encode
        assertArrayEquals(new int[] {1, 403, 407, 261, 378}, ids);
        assertEquals(List.of("\n<s>\n", " Once", " upon", " a", " time"), pieces);
        assertEquals("Once upon a time", tok.decode(ids));
        assertArrayEquals(new int[] {1, 403, 407, 261, 378, 2}, tok.encode("Once upon a time", true, true));
    }

    @Test
    void nonAsciiCharactersAreTokensWhenInTheVocabularyElseBytes() {
        // é (485) and ’ (468) are pieces of tok512; ☕ and 😀 are not and fall back to bytes
        int[] ids = tok.encode("Lily's café ☕ 😀", false, false);
        assertArrayEquals(
                new int[] {317, 439, 419, 280, 412, 431, 485, 410, 229, 155, 152, 410, 243, 162, 155, 131}, ids);
        assertArrayEquals(new int[] {410, 468}, tok.encode("’", false, false));
        for (String s : List.of(
                "Lily's café ☕ 😀",
                "é",
                "’",
                "“Hi!” she said’s",
                "naïve Zoë — 東京 🦊🦊",
                "\u00e2\u0080\u0099",
                "😀😀😀",
                "a😀b",
                "\uD83D\uDE00 ")) {
            agreesWithReferenceAndRoundTrips(s);
        }
    }

    @Test
    void emptyTextIsNoTokensAndSingleCharactersWork() {
        assertArrayEquals(new int[0], tok.encode("", false, false));
        assertArrayEquals(new int[] {1, 2}, tok.encode("", true, true));
        assertEquals("", tok.decode(new int[0]));
        assertEquals("", tok.decode(new int[] {1, 2}));
        for (char c = 0; c < 128; c++) agreesWithReferenceAndRoundTrips(String.valueOf(c));
        for (String s : List.of("é", "ß", "€", "™", "\u200a")) agreesWithReferenceAndRoundTrips(s);
    }

    @Test
    void whitespaceRunsSurviveTheRoundTrip() {
        for (String s : List.of(
                " ", "  ", "   x", "x   ", "\n", "\n\n\n", "\t\t", " \n \n ", "a  b   c    d", "\r\n", " Once")) {
            agreesWithReferenceAndRoundTrips(s);
        }
    }

    @Test
    void randomSubstringsOfTinyStoriesMatchTheQuadraticLoop() {
        Random random = new Random(42);
        for (int i = 0; i < 400; i++) {
            int len = 1 + random.nextInt(i < 300 ? 60 : 400);
            int start = random.nextInt(stories.length() - len);
            agreesWithReferenceAndRoundTrips(stories.substring(start, start + len));
        }
    }

    @Test
    void wholeValidationTextEncodesFastAndAgreesWithTheQuadraticLoopOnAPrefix() {
        // cut just after a newline: "\n" is a byte token, which never merges, so the prefix's tokens are the whole's
        String prefix = stories.substring(0, stories.indexOf('\n', 4000) + 1);
        agreesWithReferenceAndRoundTrips(prefix);

        tok.encode(stories.substring(0, 50_000), true, false); // warm up
        long t0 = System.nanoTime();
        int[] ids = tok.encode(stories, true, false);
        double seconds = (System.nanoTime() - t0) / 1e9;
        System.out.printf(
                "tinystories_val.txt: %,d chars -> %,d tokens in %.3f s%n", stories.length(), ids.length, seconds);
        assertTrue(seconds < 10, "encoding took " + seconds + " s");
        assertEquals(1, ids[0]);
        assertEquals(stories, tok.decode(ids));

        int[] head = Arrays.copyOfRange(ids, 1, 1 + ref.encode(prefix).length);
        assertArrayEquals(ref.encode(prefix), head, "the whole text's first tokens are the prefix's tokens");
    }

    @Test
    void decodeJoinsByteTokensIntoWholeCharacters() {
        // é split into bytes C3 A9, and a dummy space 410 in front
        assertEquals("é", tok.decode(new int[] {1, 410, 0xC3 + 3, 0xA9 + 3}));
        // without the dummy space there is nothing to strip
        assertEquals("é", tok.decode(new int[] {0xC3 + 3, 0xA9 + 3}));
        assertThrows(IllegalArgumentException.class, () -> tok.decode(new int[] {512}));
        assertThrows(IllegalArgumentException.class, () -> tok.piece(-1));
    }

    @Test
    void scoresAreTheFilesAndTheHighestScoringPairMergesFirst() {
        assertEquals(0f, tok.score(3));
        assertEquals(-1f, tok.score(260)); // "he"
        assertEquals("he", tok.piece(260));
        // " the": first " t" (score -0.0, the best of all), then "he" (-1) before " th" (-49), then " t" + "he" (-6)
        assertEquals(-0f, tok.score(259));
        assertEquals(-49f, tok.score(308));
        assertArrayEquals(new int[] {265}, tok.encode("the", false, false));
        assertEquals(" the", tok.piece(265));
    }

    @Test
    void ofTwoEqualPairsTheLeftOneMergesFirst() {
        // "Zooo": no merge touches "Z", and "oo" (347) can take the first or the second pair of o's; llama2.c takes the
        // leftmost, leaving the lone "o" (414) behind it. The rightmost would give 410, 469, 414, 347.
        assertArrayEquals(new int[] {410, 469, 347, 414}, tok.encode("Zooo", false, false));
        for (String s : List.of("Zooo", "Zoooo", "Zooooo", "Zllll", "Zppp", "Zooo Zlll Zppppp", "Zooo.Zooo")) {
            agreesWithReferenceAndRoundTrips(s);
        }
    }

    @Test
    void missingTruncatedAndMalformedFilesAreRefusedNamingTheFile(@TempDir Path dir) throws IOException {
        Path missing = dir.resolve("nope.bin");
        CheckpointException e = assertThrows(CheckpointException.class, () -> Llama2cTokenizer.load(missing, 512));
        assertTrue(e.getMessage().contains("nope.bin") && e.getMessage().contains("not found"), e.getMessage());

        byte[] good = Files.readAllBytes(tok512);
        Path truncated = dir.resolve("truncated.bin");
        Files.write(truncated, Arrays.copyOf(good, good.length - 3));
        e = assertThrows(CheckpointException.class, () -> Llama2cTokenizer.load(truncated, 512));
        assertTrue(e.getMessage().contains("truncated.bin") && e.getMessage().contains("truncated"), e.getMessage());

        Path tiny = dir.resolve("tiny.bin");
        Files.write(tiny, new byte[] {7, 0});
        e = assertThrows(CheckpointException.class, () -> Llama2cTokenizer.load(tiny, 512));
        assertTrue(e.getMessage().contains("tiny.bin") && e.getMessage().contains("truncated"), e.getMessage());

        // the length of token 0 (<unk>, at offset 8) set to 1000, beyond max_token_length 7
        byte[] bad = good.clone();
        ByteBuffer.wrap(bad).order(ByteOrder.LITTLE_ENDIAN).putInt(8, 1000);
        Path badLength = dir.resolve("badlength.bin");
        Files.write(badLength, bad);
        e = assertThrows(CheckpointException.class, () -> Llama2cTokenizer.load(badLength, 512));
        assertTrue(e.getMessage().contains("badlength.bin") && e.getMessage().contains("1000"), e.getMessage());

        ByteBuffer.wrap(bad).order(ByteOrder.LITTLE_ENDIAN).putInt(8, -5);
        Files.write(badLength, bad);
        e = assertThrows(CheckpointException.class, () -> Llama2cTokenizer.load(badLength, 512));
        assertTrue(e.getMessage().contains("-5"), e.getMessage());

        // a wrong vocab size: too many tokens runs off the end, too few leaves bytes over
        e = assertThrows(CheckpointException.class, () -> Llama2cTokenizer.load(tok512, 513));
        assertTrue(e.getMessage().contains("tok512.bin") && e.getMessage().contains("vocab size"), e.getMessage());
        e = assertThrows(CheckpointException.class, () -> Llama2cTokenizer.load(tok512, 511));
        assertTrue(e.getMessage().contains("tok512.bin") && e.getMessage().contains("vocab size"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> Llama2cTokenizer.load(tok512, 100));
    }
}
