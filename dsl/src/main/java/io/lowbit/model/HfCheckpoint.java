package io.lowbit.model;

import io.lowbit.torch.DType;
import io.lowbit.torch.Device;
import io.lowbit.torch.Scope;
import io.lowbit.torch.Tensor;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Hugging Face folders: config.json, model.safetensors or shards with an index (memory-mapped,
 * read tensor by tensor straight to the device, dtypes kept), and the tokenizer beside them.
 */
final class HfCheckpoint {
    private HfCheckpoint() {}

    /** Shards written above this size, as Hugging Face does for large models. */
    static final long SHARD_BYTES = 4L << 30;

    /** Loads onto {@code device}; {@code dtype} null keeps the stored dtype. Nothing stays allocated on failure. */
    static Model load(Path folder, Device device, DType dtype) {
        Config c = Config.readHf(folder.resolve("config.json"));
        Tokenizer tok = tokenizer(folder, c);
        try (ShardedCheckpoint ck = ShardedCheckpoint.open(folder);
                Scope scope = Scope.open()) {
            // check every tensor against the config before moving any bytes
            for (var e : Model.expectedTensors(c).entrySet()) {
                if (!ck.names().contains(e.getKey()))
                    throw new CheckpointException(
                            folder + ": tensor '" + e.getKey() + "' is missing (config.json implies it)");
                Safetensors.Info info = ck.info(e.getKey());
                if (!Arrays.equals(info.shape(), e.getValue()))
                    throw new CheckpointException(
                            folder + ": tensor '" + e.getKey() + "' has shape " + Arrays.toString(info.shape())
                                    + " but config.json (hidden_size " + c.hiddenSize() + ", intermediate_size "
                                    + c.intermediateSize()
                                    + ", vocab_size " + c.vocabSize() + ", heads " + c.numHeads() + "/" + c.numKvHeads()
                                    + ", head_dim " + c.headDim()
                                    + ") implies " + Arrays.toString(e.getValue()));
                if (!info.dtype().isFloatingPoint())
                    throw new CheckpointException(
                            folder + ": tensor '" + e.getKey() + "' has dtype " + info.dtype() + ", not a float type");
            }
            unused(folder, c, ck.names());
            DType stored = ck.info("model.embed_tokens.weight").dtype();
            MemoryBudget.ensureFits(folder.toString(), c, dtype == null ? stored : dtype, device);
            Map<String, Tensor> w = new LinkedHashMap<>();
            for (String name : Model.expectedTensors(c).keySet()) {
                Interrupts.check(); // the scope frees what was loaded so far
                Tensor t = ck.load(name, device);
                w.put(name, dtype == null || t.dtype() == dtype ? t : t.to(dtype));
            }
            Config loaded = c.withDtype(w.get("model.embed_tokens.weight").dtype());
            return Model.of(loaded, w, tok, device, folder.toString());
        }
    }

    /**
     * Tensors the config does not account for mean the config lies (e.g. num_hidden_layers 3 over the
     * weights of 5 layers): refused by name rather than silently dropped. Rotary-embedding buffers that
     * older exports carry, and an lm_head stored beside tied embeddings, are not weights of their own.
     */
    static void unused(Path folder, Config c, java.util.Collection<String> names) {
        var expected = Model.expectedTensors(c).keySet();
        java.util.List<String> extra = names.stream()
                .filter(n -> !expected.contains(n))
                .filter(n ->
                        !n.endsWith("rotary_emb.inv_freq") && !(c.tieWordEmbeddings() && n.equals("lm_head.weight")))
                .sorted()
                .toList();
        if (extra.isEmpty()) return;
        throw new CheckpointException(folder + ": " + extra.size() + " tensor" + (extra.size() == 1 ? "" : "s")
                + " that config.json (num_hidden_layers " + c.numLayers() + ", model_type "
                + c.architecture().name().toLowerCase(java.util.Locale.ROOT) + ") does not account for: "
                + String.join(", ", extra.subList(0, Math.min(5, extra.size())))
                + (extra.size() > 5 ? ", …" : "") + "; the config does not describe these weights");
    }

    /** tokenizer.json (Hugging Face) or tokenizer.bin (llama2.c, as Lowbit saves it), or none. */
    static Tokenizer tokenizer(Path folder, Config c) {
        if (Files.isRegularFile(folder.resolve("tokenizer.json")))
            return HfTokenizer.load(folder, c.bosId(), c.eosId());
        if (Files.isRegularFile(folder.resolve("tokenizer.bin")))
            return Llama2cTokenizer.load(folder.resolve("tokenizer.bin"), c.vocabSize());
        return null;
    }

    /** config.json, the weights (model.safetensors, or shards above 4 GiB), and the tokenizer's files. */
    static void save(Model m, Path folder) {
        try {
            Files.createDirectories(folder);
            m.config().withDtype(m.dtype()).writeHf(folder.resolve("config.json"));
            ShardedCheckpoint.writeSharded(
                    folder, new LinkedHashMap<>(m.weights()), SHARD_BYTES, Map.of("format", "pt"));
            if (m.tokenizer() != null) {
                for (Path f : m.tokenizer().files()) {
                    String name = m.tokenizer() instanceof Llama2cTokenizer
                            ? "tokenizer.bin"
                            : f.getFileName().toString();
                    Path target = folder.resolve(name);
                    if (!Files.exists(target) || !Files.isSameFile(f, target))
                        Files.copy(f, target, StandardCopyOption.REPLACE_EXISTING);
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException(folder + ": cannot save (" + e.getMessage() + ")", e);
        }
    }
}
