package io.lowbit.model;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;

/**
 * The tokenizer of llama2.c ({@code tokenizer.bin}): a sentencepiece-style vocabulary of byte strings with
 * merge scores and byte fallback.
 *
 * <p>File layout, little-endian: int32 {@code max_token_length}, then for each of the {@code vocabSize} tokens a
 * float32 score, an int32 byte length and that many bytes. Ids 1 and 2 are BOS and EOS, and ids 3..258 must be the
 * byte tokens {@code <0x00>}..{@code <0xFF>}, so that byte {@code b} is id {@code b + 3}.
 *
 * <p>Encoding: a non-empty text gets a dummy space in front; each UTF-8 character becomes its token when the vocabulary
 * has it, else one byte token per byte; then the adjacent pair whose concatenation is in the vocabulary with the
 * highest score is merged, the leftmost one on ties, until no pair merges. This is the quadratic loop of llama2.c,
 * done here with a priority queue over a linked list of symbols so that long texts encode in linear-logarithmic time.
 *
 * <p>Decoding: the pieces of the ids are concatenated as bytes (byte tokens as the raw byte, BOS and EOS dropped),
 * decoded as UTF-8, and one leading space, the dummy space of encoding, is removed. Hence {@code
 * decode(encode(text, bos, eos))} equals {@code text} for every text whose UTF-8 form is valid. (llama2.c instead
 * strips the space of the piece right after BOS; that rule loses the round trip when BOS is absent.) To render a
 * token stream piece by piece, for example while generating, use {@link #piece}.
 *
 * <p>Instances are immutable and safe to share between threads.
 */
public final class Llama2cTokenizer implements Tokenizer {
    /** Beginning of sequence. */
    public static final int BOS = 1;
    /** End of sequence. */
    public static final int EOS = 2;
    /** Id of the byte token {@code <0x00>}; byte {@code b} is id {@code BYTE_OFFSET + b}. */
    public static final int BYTE_OFFSET = 3;

    /** Raw bytes of each piece, one char per byte (ISO-8859-1), so that byte strings hash and concatenate as strings. */
    private final String[] raw;

    private final float[] scores;
    private final Map<String, Integer> ids;
    private final int maxTokenLength;
    private final Path file;

    private Llama2cTokenizer(String[] raw, float[] scores, int maxTokenLength, Path file) {
        this.file = file;
        this.raw = raw;
        this.scores = scores;
        this.maxTokenLength = maxTokenLength;
        this.ids = HashMap.newHashMap(raw.length);
        // Should a piece occur twice, the lower id wins (llama2.c's binary search would pick either).
        for (int i = 0; i < raw.length; i++) ids.putIfAbsent(raw[i], i);
    }

    /**
     * Reads a llama2.c {@code tokenizer.bin} with {@code vocabSize} tokens.
     *
     * @throws IllegalArgumentException if {@code vocabSize} is too small to hold the special and byte tokens
     * @throws CheckpointException if the file is missing, unreadable, truncated, longer than {@code vocabSize} tokens, or
     *     malformed (negative or oversized lengths, byte tokens not at ids 3..258); the message names the file
     */
    public static Llama2cTokenizer load(Path tokenizerBin, int vocabSize) {
        if (vocabSize < BYTE_OFFSET + 256) {
            throw new IllegalArgumentException("vocabSize " + vocabSize + " is too small for a llama2.c tokenizer ("
                    + tokenizerBin + "): it needs at least " + (BYTE_OFFSET + 256)
                    + " tokens (<unk>, BOS, EOS and 256 byte tokens)");
        }
        byte[] bytes;
        try {
            bytes = Files.readAllBytes(tokenizerBin);
        } catch (NoSuchFileException e) {
            throw new CheckpointException("tokenizer file not found: " + tokenizerBin, e);
        } catch (IOException e) {
            throw new CheckpointException("cannot read tokenizer file " + tokenizerBin + ": " + e, e);
        }
        ByteBuffer in = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
        if (in.remaining() < 4) {
            throw new CheckpointException("tokenizer file " + tokenizerBin + " is truncated: " + bytes.length
                    + " bytes, too short for its header");
        }
        int maxTokenLength = in.getInt();
        if (maxTokenLength <= 0) {
            throw new CheckpointException(
                    "tokenizer file " + tokenizerBin + " is malformed: max_token_length is " + maxTokenLength);
        }
        String[] raw = new String[vocabSize];
        float[] scores = new float[vocabSize];
        for (int i = 0; i < vocabSize; i++) {
            if (in.remaining() < 8) {
                throw new CheckpointException("tokenizer file " + tokenizerBin + " is truncated: it ends inside token "
                        + i + " of " + vocabSize + " (offset " + in.position() + "); is the vocab size right?");
            }
            scores[i] = in.getFloat();
            int len = in.getInt();
            if (len < 0 || len > maxTokenLength) {
                throw new CheckpointException(
                        "tokenizer file " + tokenizerBin + " is malformed: token " + i + " has length " + len
                                + " (max_token_length " + maxTokenLength + ", offset " + (in.position() - 4) + ")");
            }
            if (in.remaining() < len) {
                throw new CheckpointException("tokenizer file " + tokenizerBin + " is truncated: token " + i + " needs "
                        + len + " bytes but " + in.remaining() + " are left");
            }
            raw[i] = new String(bytes, in.position(), len, StandardCharsets.ISO_8859_1);
            in.position(in.position() + len);
        }
        if (in.hasRemaining()) {
            throw new CheckpointException("tokenizer file " + tokenizerBin + " has " + in.remaining()
                    + " bytes after its " + vocabSize + " tokens; is the vocab size right?");
        }
        for (int b = 0; b < 256; b++) {
            String expected = String.format("<0x%02X>", b);
            if (!raw[BYTE_OFFSET + b].equals(expected)) {
                throw new CheckpointException("tokenizer file " + tokenizerBin + " has no byte fallback at id "
                        + (BYTE_OFFSET + b) + ": expected " + expected + ", found " + display(raw[BYTE_OFFSET + b]));
            }
        }
        return new Llama2cTokenizer(raw, scores, maxTokenLength, tokenizerBin);
    }

    @Override
    public int[] encode(String text, boolean bos, boolean eos) {
        int[] symbols = text.isEmpty() ? new int[0] : merge(initialSymbols(text));
        int n = symbols.length + (bos ? 1 : 0) + (eos ? 1 : 0);
        int[] out = new int[n];
        int k = 0;
        if (bos) out[k++] = BOS;
        System.arraycopy(symbols, 0, out, k, symbols.length);
        if (eos) out[n - 1] = EOS;
        return out;
    }

    /** The dummy space and the characters of {@code text}, each as its token or as byte tokens. */
    private int[] initialSymbols(String text) {
        byte[] utf8 = (" " + text).getBytes(StandardCharsets.UTF_8);
        int[] out = new int[utf8.length];
        int n = 0;
        for (int i = 0; i < utf8.length; ) {
            // a character: a lead byte and up to three continuation bytes (10xxxxxx)
            int end = i + 1;
            while (end < utf8.length && end - i < 4 && (utf8[end] & 0xC0) == 0x80) end++;
            Integer id = ids.get(new String(utf8, i, end - i, StandardCharsets.ISO_8859_1));
            if (id != null) {
                out[n++] = id;
            } else {
                for (int j = i; j < end; j++) out[n++] = BYTE_OFFSET + (utf8[j] & 0xFF);
            }
            i = end;
        }
        return Arrays.copyOf(out, n);
    }

    /**
     * Runs the merges on the symbols {@code tok}. The symbols form a doubly linked list over their initial positions;
     * a merge keeps the left node and unlinks the right one, so list order is position order. Candidate pairs sit in a
     * max-heap ordered by score, then by the left node's position; an entry remembers both nodes and their token ids,
     * and an entry whose nodes have since changed or come apart is stale and skipped when it reaches the top.
     */
    private int[] merge(int[] tok) {
        int n = tok.length;
        int[] next = new int[n];
        int[] prev = new int[n];
        for (int i = 0; i < n; i++) {
            next[i] = i + 1 < n ? i + 1 : -1;
            prev[i] = i - 1;
        }
        PairHeap heap = new PairHeap(Math.max(16, 3 * n));
        for (int i = 0; i + 1 < n; i++) offer(heap, i, i + 1, tok);
        int alive = n;
        while (heap.size > 0) {
            int e = heap.pop();
            int left = heap.left[e], right = heap.right[e];
            if (next[left] != right || tok[left] != heap.leftId[e] || tok[right] != heap.rightId[e]) continue; // stale
            tok[left] = heap.merged[e];
            int after = next[right];
            next[left] = after;
            if (after >= 0) prev[after] = left;
            next[right] = -2; // unlinked: no entry with it as its left node validates any more
            prev[right] = -2;
            alive--;
            if (prev[left] >= 0) offer(heap, prev[left], left, tok);
            if (after >= 0) offer(heap, left, after, tok);
        }
        int[] out = new int[alive];
        int k = 0;
        for (int i = 0; i >= 0; i = next[i]) out[k++] = tok[i];
        return out;
    }

    private void offer(PairHeap heap, int left, int right, int[] tok) {
        Integer merged = ids.get(raw[tok[left]].concat(raw[tok[right]]));
        // llama2.c merges only when the score beats the best so far, which a NaN score never does
        if (merged != null && !Float.isNaN(scores[merged])) {
            heap.push(left, right, tok[left], tok[right], merged, scores[merged]);
        }
    }

    /** A binary max-heap of candidate merges in parallel primitive arrays. */
    private static final class PairHeap {
        final int[] left, right, leftId, rightId, merged;
        final float[] score;
        final int[] heap; // entry indices
        int size, entries;

        PairHeap(int capacity) {
            left = new int[capacity];
            right = new int[capacity];
            leftId = new int[capacity];
            rightId = new int[capacity];
            merged = new int[capacity];
            score = new float[capacity];
            heap = new int[capacity];
        }

        void push(int l, int r, int lid, int rid, int m, float s) {
            int e = entries++;
            left[e] = l;
            right[e] = r;
            leftId[e] = lid;
            rightId[e] = rid;
            merged[e] = m;
            score[e] = s;
            int i = size++;
            while (i > 0) {
                int parent = (i - 1) >>> 1;
                if (!before(e, heap[parent])) break;
                heap[i] = heap[parent];
                i = parent;
            }
            heap[i] = e;
        }

        int pop() {
            int top = heap[0];
            int last = heap[--size];
            int i = 0;
            while (true) {
                int child = 2 * i + 1;
                if (child >= size) break;
                if (child + 1 < size && before(heap[child + 1], heap[child])) child++;
                if (!before(heap[child], last)) break;
                heap[i] = heap[child];
                i = child;
            }
            if (size > 0) heap[i] = last;
            return top;
        }

        /** Whether entry a merges first: a higher score, or an equal score further left (scores compare as with >). */
        private boolean before(int a, int b) {
            if (score[a] > score[b]) return true;
            if (score[a] < score[b]) return false;
            return left[a] < left[b];
        }
    }

    @Override
    public String decode(int[] ids) {
        ByteArrayOutputStream out = new ByteArrayOutputStream(ids.length * 4);
        for (int id : ids) {
            checkId(id);
            if (id == BOS || id == EOS) continue;
            if (id >= BYTE_OFFSET && id < BYTE_OFFSET + 256) {
                out.write(id - BYTE_OFFSET);
            } else {
                byte[] b = raw[id].getBytes(StandardCharsets.ISO_8859_1);
                out.write(b, 0, b.length);
            }
        }
        byte[] bytes = out.toByteArray();
        int skip = bytes.length > 0 && bytes[0] == ' ' ? 1 : 0; // the dummy space of encode
        return new String(bytes, skip, bytes.length - skip, StandardCharsets.UTF_8);
    }

    /** The text of token {@code id} as stored (byte tokens read {@code <0xXX>}), decoded as UTF-8. */
    public String piece(int id) {
        checkId(id);
        return new String(raw[id].getBytes(StandardCharsets.ISO_8859_1), StandardCharsets.UTF_8);
    }

    /** The merge score of token {@code id}: among mergeable pairs, the one giving the higher score merges first. */
    public float score(int id) {
        checkId(id);
        return scores[id];
    }

    /** The longest piece in bytes, as the file's header states it. */
    public int maxTokenLength() {
        return maxTokenLength;
    }

    @Override
    public int bos() {
        return BOS;
    }

    @Override
    public int eos() {
        return EOS;
    }

    @Override
    public int vocabSize() {
        return raw.length;
    }

    private void checkId(int id) {
        if (id < 0 || id >= raw.length) {
            throw new IllegalArgumentException("token id " + id + " is outside the vocabulary [0, " + raw.length + ")");
        }
    }

    private static String display(String raw) {
        return '"' + new String(raw.getBytes(StandardCharsets.ISO_8859_1), StandardCharsets.UTF_8) + '"';
    }

    /** The tokenizer.bin it was read from. */
    @Override
    public java.util.List<Path> files() {
        return java.util.List.of(file);
    }
}
