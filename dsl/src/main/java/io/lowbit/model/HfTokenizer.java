package io.lowbit.model;

import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParseException;
import com.google.gson.JsonParser;
import com.google.gson.Strictness;
import com.google.gson.stream.JsonReader;
import com.google.gson.stream.JsonToken;
import com.google.gson.stream.MalformedJsonException;
import java.io.IOException;
import java.io.StringReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;

/**
 * A Hugging Face {@code tokenizer.json}, run by the Rust {@code tokenizers} library through DJL, for exact agreement
 * with the Python tokenizers.
 *
 * <p>The tokenizer never adds special tokens, truncates or pads on its own: {@link #encode} puts BOS and EOS around
 * the ids exactly when asked. {@link #decode} drops BOS, EOS and every other special token.
 *
 * <p>BOS and EOS come from the files next to {@code tokenizer.json}: {@code tokenizer_config.json} ({@code bos_token},
 * {@code eos_token}, looked up in the vocabulary), then {@code config.json} ({@code bos_token_id}, {@code
 * eos_token_id}, the first when a list), and only then from the arguments of {@link #load}. A tokenizer with no BOS
 * (or EOS) known has {@link #bos()} (or {@link #eos()}) -1 and refuses to encode with it. {@link #vocabSize()} is
 * {@code config.json}'s {@code vocab_size} when given (the model's embedding rows), else one more than the largest id
 * in {@code tokenizer.json}.
 *
 * <p>DJL is kept offline: unless the {@code DJL_OFFLINE} environment variable or the {@code ai.djl.offline} system
 * property says otherwise, loading this class sets {@code ai.djl.offline=true}, so DJL neither reports usage over the
 * network nor looks for a CUDA build of its native library; it uses the CPU build inside its jar, copied once into its
 * cache directory ({@code ~/.djl.ai/tokenizers}, or {@code DJL_CACHE_DIR}).
 *
 * <p>Close the tokenizer to free its native memory.
 */
public final class HfTokenizer implements Tokenizer, AutoCloseable {
    static {
        if (System.getenv("DJL_OFFLINE") == null && System.getProperty("ai.djl.offline") == null) {
            System.setProperty("ai.djl.offline", "true");
        }
    }

    private final HuggingFaceTokenizer tokenizer;
    private final Path file;
    private final int bos;
    private final int eos;
    private final int vocabSize;
    private final String chatTemplate;
    private volatile boolean closed;

    private HfTokenizer(
            HuggingFaceTokenizer tokenizer, Path file, int bos, int eos, int vocabSize, String chatTemplate) {
        this.tokenizer = tokenizer;
        this.file = file;
        this.bos = bos;
        this.eos = eos;
        this.vocabSize = vocabSize;
        this.chatTemplate = chatTemplate;
    }

    /**
     * Loads {@code tokenizer.json}, given as the file or as its folder.
     *
     * @param bosId BOS id when neither {@code tokenizer_config.json} nor {@code config.json} names one; may be null
     * @param eosId EOS id likewise; may be null
     * @throws CheckpointException if the file is missing, is not JSON, or is not a tokenizer the library accepts; the
     *     message names the file
     */
    public static HfTokenizer load(Path tokenizerJson, Integer bosId, Integer eosId) {
        Path file = Files.isDirectory(tokenizerJson) ? tokenizerJson.resolve("tokenizer.json") : tokenizerJson;
        if (!Files.isRegularFile(file)) {
            throw new CheckpointException("Hugging Face tokenizer file not found: " + file);
        }
        Path folder = file.toAbsolutePath().getParent();
        JsonObject json = readJsonObject(file, true);
        Map<String, Integer> vocab = vocabulary(json, file);

        JsonObject tokenizerConfig = readJsonObject(folder.resolve("tokenizer_config.json"), false);
        JsonObject config = readJsonObject(folder.resolve("config.json"), false);
        int bos = specialId("bos", tokenizerConfig, config, vocab, bosId, file);
        int eos = specialId("eos", tokenizerConfig, config, vocab, eosId, file);
        int vocabSize =
                vocab.values().stream().mapToInt(Integer::intValue).max().orElse(-1) + 1;
        if (config != null && config.get("vocab_size") instanceof JsonElement v && v.isJsonPrimitive()) {
            vocabSize = v.getAsInt();
        }

        Map<String, String> options = Map.of("addSpecialTokens", "false", "truncation", "false", "padding", "false");
        HuggingFaceTokenizer tokenizer;
        try {
            tokenizer = HuggingFaceTokenizer.newInstance(file, options);
        } catch (IOException e) {
            throw new CheckpointException("cannot read Hugging Face tokenizer file " + file + ": " + e, e);
        } catch (RuntimeException e) {
            throw new CheckpointException("the tokenizers library rejects " + file + ": " + e.getMessage(), e);
        }
        return new HfTokenizer(tokenizer, file, bos, eos, vocabSize, chatTemplate(tokenizerConfig));
    }

    /** tokenizer_config.json's chat_template: a string, or a list of named ones of which "default" is taken. */
    private static String chatTemplate(JsonObject config) {
        JsonElement t = config == null ? null : config.get("chat_template");
        if (t == null || t.isJsonNull()) return null;
        if (t.isJsonPrimitive()) return t.getAsString();
        if (t.isJsonArray())
            for (JsonElement e : t.getAsJsonArray())
                if (e.isJsonObject()
                        && "default".equals(e.getAsJsonObject().get("name").getAsString()))
                    return e.getAsJsonObject().get("template").getAsString();
        return null;
    }

    @Override
    public String chatTemplate() {
        return chatTemplate;
    }

    @Override
    public int[] encode(String text, boolean bos, boolean eos) {
        if (bos && this.bos < 0)
            throw new IllegalStateException("no BOS token is known for " + file + "; pass bosId to load");
        if (eos && this.eos < 0)
            throw new IllegalStateException("no EOS token is known for " + file + "; pass eosId to load");
        long[] ids = open().encode(text, false, false).getIds();
        int n = ids.length + (bos ? 1 : 0) + (eos ? 1 : 0);
        int[] out = new int[n];
        int k = 0;
        if (bos) out[k++] = this.bos;
        for (long id : ids) out[k++] = Math.toIntExact(id);
        if (eos) out[k] = this.eos;
        return out;
    }

    @Override
    public String decode(int[] ids) {
        long[] kept = new long[ids.length];
        int n = 0;
        for (int id : ids) {
            if (id < 0) throw new IllegalArgumentException("negative token id " + id);
            if (id != bos && id != eos) kept[n++] = id;
        }
        return open().decode(Arrays.copyOf(kept, n), true);
    }

    /** BOS id, or -1 when none is known. */
    @Override
    public int bos() {
        return bos;
    }

    /** EOS id, or -1 when none is known. */
    @Override
    public int eos() {
        return eos;
    }

    @Override
    public int vocabSize() {
        return vocabSize;
    }

    /** The tokenizer.json this was loaded from. */
    public Path file() {
        return file;
    }

    @Override
    public void close() {
        if (!closed) {
            closed = true;
            tokenizer.close();
        }
    }

    private HuggingFaceTokenizer open() {
        if (closed) throw new IllegalStateException("tokenizer " + file + " is closed");
        return tokenizer;
    }

    /** The JSON object in {@code file}; null when the file is absent and not required. */
    private static JsonObject readJsonObject(Path file, boolean required) {
        if (!Files.isRegularFile(file)) {
            if (required) throw new CheckpointException("file not found: " + file);
            return null;
        }
        try {
            JsonReader reader = new JsonReader(new StringReader(Files.readString(file, StandardCharsets.UTF_8)));
            reader.setStrictness(Strictness.STRICT);
            JsonElement e = JsonParser.parseReader(reader);
            if (reader.peek() != JsonToken.END_DOCUMENT)
                throw new JsonParseException("text after the end of the JSON value");
            if (!e.isJsonObject()) throw new CheckpointException(file + " is not a JSON object");
            return e.getAsJsonObject();
        } catch (MalformedJsonException e) {
            throw new CheckpointException(file + " is not valid JSON: " + e.getMessage(), e);
        } catch (IOException e) {
            throw new CheckpointException("cannot read " + file + ": " + e, e);
        } catch (JsonParseException e) {
            throw new CheckpointException(file + " is not valid JSON: " + e.getMessage(), e);
        }
    }

    /** Token to id: the model's vocab (an object for BPE, WordPiece and WordLevel; a list for Unigram) and added tokens. */
    private static Map<String, Integer> vocabulary(JsonObject json, Path file) {
        if (!(json.get("model") instanceof JsonObject model)) {
            throw new CheckpointException(file + " is not a Hugging Face tokenizer: it has no \"model\" object");
        }
        Map<String, Integer> vocab = new HashMap<>();
        try {
            JsonElement v = model.get("vocab");
            if (v instanceof JsonObject o) {
                for (var entry : o.entrySet())
                    vocab.put(entry.getKey(), entry.getValue().getAsInt());
            } else if (v instanceof JsonArray a) {
                for (int i = 0; i < a.size(); i++)
                    vocab.putIfAbsent(a.get(i).getAsJsonArray().get(0).getAsString(), i);
            }
            if (json.get("added_tokens") instanceof JsonArray added) {
                for (JsonElement t : added) {
                    JsonObject o = t.getAsJsonObject();
                    vocab.put(o.get("content").getAsString(), o.get("id").getAsInt());
                }
            }
        } catch (RuntimeException e) { // wrong JSON types
            throw new CheckpointException(file + " has a malformed vocabulary: " + e.getMessage(), e);
        }
        return vocab;
    }

    /** BOS or EOS id from tokenizer_config.json, then config.json, then the fallback; -1 when none. */
    private static int specialId(
            String which,
            JsonObject tokenizerConfig,
            JsonObject config,
            Map<String, Integer> vocab,
            Integer fallback,
            Path file) {
        if (tokenizerConfig != null) {
            JsonElement t = tokenizerConfig.get(which + "_token");
            if (t instanceof JsonObject o) t = o.get("content");
            if (t != null && t.isJsonPrimitive()) {
                Integer id = vocab.get(t.getAsString());
                if (id == null) {
                    throw new CheckpointException("tokenizer_config.json next to " + file + " names " + which
                            + "_token \"" + t.getAsString() + "\", which is not in the vocabulary");
                }
                return id;
            }
        }
        if (config != null) {
            JsonElement id = config.get(which + "_token_id");
            if (id instanceof JsonArray a && !a.isEmpty()) id = a.get(0);
            if (id != null && id.isJsonPrimitive()) return id.getAsInt();
        }
        return fallback != null ? fallback : -1;
    }

    /** tokenizer.json and, when present beside it, tokenizer_config.json and special_tokens_map.json. */
    @Override
    public java.util.List<Path> files() {
        java.util.List<Path> out = new java.util.ArrayList<>(java.util.List.of(file));
        for (String extra : new String[] {"tokenizer_config.json", "special_tokens_map.json"}) {
            Path p = file.resolveSibling(extra);
            if (Files.isRegularFile(p)) out.add(p);
        }
        return out;
    }
}
