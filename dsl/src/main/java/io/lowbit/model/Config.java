package io.lowbit.model;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import io.lowbit.torch.DType;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;

/**
 * A decoder-only transformer's shape: Llama (2, 3, TinyLlama, Mistral without sliding window) or
 * Qwen2 (q/k/v biases). Read from and written to Hugging Face config.json.
 */
public record Config(
        Architecture architecture,
        int vocabSize,
        int hiddenSize,
        int intermediateSize,
        int numLayers,
        int numHeads,
        int numKvHeads,
        int headDim,
        int maxPositions,
        double ropeTheta,
        RopeScaling ropeScaling,
        double rmsNormEps,
        boolean tieWordEmbeddings,
        int bosId,
        int eosId,
        DType dtype) {

    public enum Architecture {
        LLAMA("llama", "LlamaForCausalLM"),
        QWEN2("qwen2", "Qwen2ForCausalLM");

        final String modelType;
        final String className;

        Architecture(String modelType, String className) {
            this.modelType = modelType;
            this.className = className;
        }

        /** Qwen2 has biases on q, k and v. */
        public boolean attentionBias() {
            return this == QWEN2;
        }
    }

    /** Llama 3's frequency-dependent RoPE scaling ("rope_type": "llama3"). */
    public record RopeScaling(double factor, double lowFreqFactor, double highFreqFactor, int originalMaxPositions) {}

    public Config {
        int[] dims = {vocabSize, hiddenSize, intermediateSize, numLayers, numHeads, numKvHeads, headDim, maxPositions};
        String[] names = {
            "vocab_size",
            "hidden_size",
            "intermediate_size",
            "num_hidden_layers",
            "num_attention_heads",
            "num_key_value_heads",
            "head_dim",
            "max_position_embeddings"
        };
        for (int i = 0; i < dims.length; i++)
            if (dims[i] < 1) throw new IllegalArgumentException(names[i] + " = " + dims[i] + " must be at least 1");
        if (numHeads % numKvHeads != 0)
            throw new IllegalArgumentException(
                    "num_attention_heads " + numHeads + " is not a multiple of num_key_value_heads " + numKvHeads);
    }

    public int kvDim() {
        return numKvHeads * headDim;
    }

    public int qDim() {
        return numHeads * headDim;
    }

    public Config withDtype(DType d) {
        return new Config(
                architecture,
                vocabSize,
                hiddenSize,
                intermediateSize,
                numLayers,
                numHeads,
                numKvHeads,
                headDim,
                maxPositions,
                ropeTheta,
                ropeScaling,
                rmsNormEps,
                tieWordEmbeddings,
                bosId,
                eosId,
                d);
    }

    /** Parameters of the model (embeddings counted once when tied). */
    public long parameterCount() {
        long attn = (long) hiddenSize * qDim() * 2 + (long) hiddenSize * kvDim() * 2;
        if (architecture.attentionBias()) attn += qDim() + 2L * kvDim();
        long mlp = 3L * hiddenSize * intermediateSize;
        long perLayer = attn + mlp + 2L * hiddenSize;
        long embed = (long) vocabSize * hiddenSize;
        return embed * (tieWordEmbeddings ? 1 : 2) + numLayers * perLayer + hiddenSize;
    }

    // ---------------------------------------------------------------- config.json

    /** Reads a Hugging Face config.json; errors name the file and the field. */
    public static Config readHf(Path file) {
        JsonObject j;
        try {
            j = JsonParser.parseString(Files.readString(file)).getAsJsonObject();
        } catch (IOException e) {
            throw new CheckpointException(file + ": cannot read config (" + e.getMessage() + ")", e);
        } catch (RuntimeException e) {
            throw new CheckpointException(file + ": not a JSON object (" + e.getMessage() + ")", e);
        }
        Fields f = new Fields(file, j);
        String type = f.string("model_type", null);
        Architecture arch = switch (type == null ? "" : type) {
            case "llama" -> Architecture.LLAMA;
            case "mistral" -> {
                if (j.has("sliding_window")
                        && !j.get("sliding_window").isJsonNull()
                        && j.get("sliding_window").getAsLong() < f.integer("max_position_embeddings", 4096))
                    throw new CheckpointException(file + ": field 'sliding_window' = " + j.get("sliding_window")
                            + ": Mistral models with sliding-window attention are not supported");
                yield Architecture.LLAMA;
            }
            case "qwen2" -> Architecture.QWEN2;
            default ->
                throw new CheckpointException(
                        file + ": field 'model_type' = " + (type == null ? "missing" : "'" + type + "'")
                                + ": unsupported architecture (Lowbit supports llama, mistral without sliding window, qwen2)");
        };
        int hidden = f.positive("hidden_size", null);
        int heads = f.positive("num_attention_heads", null);
        int kvHeads = f.positive("num_key_value_heads", heads);
        if (heads % kvHeads != 0)
            throw new CheckpointException(file + ": field 'num_key_value_heads' = " + kvHeads
                    + " does not divide num_attention_heads " + heads);
        int headDim = f.positive("head_dim", hidden / heads);
        if (headDim % 2 != 0)
            throw new CheckpointException(
                    file + ": field 'head_dim' = " + headDim + " is odd; rotary embeddings pair dimensions"
                            + (j.has("head_dim")
                                    ? ""
                                    : " (head_dim defaults to hidden_size / num_attention_heads = " + hidden + " / "
                                            + heads + ")"));
        RopeScaling scaling = null;
        if (j.has("rope_scaling") && !j.get("rope_scaling").isJsonNull()) {
            JsonObject rs = j.getAsJsonObject("rope_scaling");
            Fields r = new Fields(file, rs);
            String ropeType = r.string("rope_type", r.string("type", "default"));
            if (ropeType.equals("llama3")) {
                scaling = new RopeScaling(
                        r.number("factor", null),
                        r.number("low_freq_factor", 1.0),
                        r.number("high_freq_factor", 4.0),
                        r.integer("original_max_position_embeddings", 8192));
            } else if (!ropeType.equals("default")) {
                throw new CheckpointException(file + ": field 'rope_scaling.rope_type' = '" + ropeType
                        + "': unsupported RoPE scaling (Lowbit supports llama3 and none)");
            }
        }
        String dtypeName = f.string("torch_dtype", f.string("dtype", "float32"));
        DType dtype;
        try {
            dtype = DType.parse(dtypeName);
        } catch (IllegalArgumentException e) {
            throw new CheckpointException(file + ": field 'torch_dtype' = '" + dtypeName + "': " + e.getMessage(), e);
        }
        return new Config(
                arch,
                f.positive("vocab_size", null),
                hidden,
                f.positive("intermediate_size", null),
                f.positive("num_hidden_layers", null),
                heads,
                kvHeads,
                headDim,
                f.positive("max_position_embeddings", 2048),
                f.number("rope_theta", 10000.0),
                scaling,
                f.number("rms_norm_eps", 1e-6),
                f.bool("tie_word_embeddings", false),
                f.firstInteger("bos_token_id", 1),
                f.firstInteger("eos_token_id", 2),
                dtype);
    }

    /** Writes config.json in the Hugging Face layout. */
    public void writeHf(Path file) throws IOException {
        JsonObject j = new JsonObject();
        var arr = new com.google.gson.JsonArray();
        arr.add(architecture.className);
        j.add("architectures", arr);
        j.addProperty("model_type", architecture.modelType);
        j.addProperty("vocab_size", vocabSize);
        j.addProperty("hidden_size", hiddenSize);
        j.addProperty("intermediate_size", intermediateSize);
        j.addProperty("num_hidden_layers", numLayers);
        j.addProperty("num_attention_heads", numHeads);
        j.addProperty("num_key_value_heads", numKvHeads);
        j.addProperty("head_dim", headDim);
        j.addProperty("max_position_embeddings", maxPositions);
        j.addProperty("rope_theta", ropeTheta);
        if (ropeScaling != null) {
            JsonObject rs = new JsonObject();
            rs.addProperty("rope_type", "llama3");
            rs.addProperty("factor", ropeScaling.factor());
            rs.addProperty("low_freq_factor", ropeScaling.lowFreqFactor());
            rs.addProperty("high_freq_factor", ropeScaling.highFreqFactor());
            rs.addProperty("original_max_position_embeddings", ropeScaling.originalMaxPositions());
            j.add("rope_scaling", rs);
        }
        j.addProperty("rms_norm_eps", rmsNormEps);
        j.addProperty("tie_word_embeddings", tieWordEmbeddings);
        j.addProperty("bos_token_id", bosId);
        j.addProperty("eos_token_id", eosId);
        j.addProperty("attention_bias", architecture.attentionBias());
        j.addProperty("hidden_act", "silu");
        j.addProperty(
                "torch_dtype",
                switch (dtype) {
                    case BF16 -> "bfloat16";
                    case F16 -> "float16";
                    case F64 -> "float64";
                    default -> "float32";
                });
        Files.writeString(
                file,
                new com.google.gson.GsonBuilder().setPrettyPrinting().create().toJson(j));
    }

    /** Typed field access that names the file and the field when something is missing or wrong. */
    private record Fields(Path file, JsonObject j) {
        private JsonElement get(String name, Object fallback) {
            JsonElement e = j.get(name);
            if (e == null || e.isJsonNull()) {
                if (fallback == null) throw new CheckpointException(file + ": field '" + name + "' is missing");
                return null;
            }
            return e;
        }

        int integer(String name, Integer fallback) {
            JsonElement e = get(name, fallback);
            if (e == null) return fallback;
            java.math.BigDecimal v;
            try {
                v = e.getAsBigDecimal(); // exact: a double would round 2^53 + 1, an int cast would saturate
            } catch (RuntimeException x) {
                throw new CheckpointException(
                        file + ": field '" + name + "' = " + e + " is not a non-negative integer");
            }
            if (v.signum() < 0 || v.stripTrailingZeros().scale() > 0)
                throw new CheckpointException(
                        file + ": field '" + name + "' = " + e + " is not a non-negative integer");
            if (v.compareTo(java.math.BigDecimal.valueOf(Integer.MAX_VALUE)) > 0)
                throw new CheckpointException(file + ": field '" + name + "' = " + e
                        + " is larger than Lowbit supports (" + Integer.MAX_VALUE + ")");
            return v.intValueExact();
        }

        /** A dimension: an integer of at least 1 (0 would divide by zero or make an empty model). */
        int positive(String name, Integer fallback) {
            int v = integer(name, fallback);
            if (v < 1) throw new CheckpointException(file + ": field '" + name + "' = " + v + " must be at least 1");
            return v;
        }

        /** An integer, or the first of a list (eos_token_id may be a list). */
        int firstInteger(String name, Integer fallback) {
            JsonElement e = j.get(name);
            if (e != null && e.isJsonArray() && !e.getAsJsonArray().isEmpty())
                return e.getAsJsonArray().get(0).getAsInt();
            return integer(name, fallback);
        }

        double number(String name, Double fallback) {
            JsonElement e = get(name, fallback);
            if (e == null) return fallback;
            try {
                return e.getAsDouble();
            } catch (RuntimeException x) {
                throw new CheckpointException(file + ": field '" + name + "' = " + e + " is not a number");
            }
        }

        boolean bool(String name, Boolean fallback) {
            JsonElement e = get(name, fallback);
            return e == null ? fallback : e.getAsBoolean();
        }

        String string(String name, String fallback) {
            JsonElement e = j.get(name);
            if (e == null || e.isJsonNull()) return fallback;
            return e.getAsString().toLowerCase(Locale.ROOT);
        }
    }
}
