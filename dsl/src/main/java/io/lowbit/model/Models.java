package io.lowbit.model;

import io.lowbit.torch.DType;
import io.lowbit.torch.Device;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The front door for models: {@code load("data/models/stories260K")}, a Hugging Face folder, a
 * llama2.c .bin, or {@code "random:llama3-8b"}; and {@code save(model, folder)}.
 */
public final class Models {
    private Models() {}

    /** Where and how to load: device (default: the engine's), dtype (null: the checkpoint's), seed for random:. */
    public record Options(Device device, DType dtype, long seed) {
        public static Options defaults() {
            return new Options(Device.defaultDevice(), null, 0);
        }

        public Options on(Device d) {
            return new Options(d, dtype, seed);
        }

        public Options as(DType d) {
            return new Options(device, d, seed);
        }

        public Options seed(long s) {
            return new Options(device, dtype, s);
        }
    }

    public static Model load(String spec) {
        return load(spec, Options.defaults());
    }

    public static Model load(String spec, Options o) {
        Interrupts.check(); // a stop pressed before the load began; file channels would turn it into an I/O error
        if (spec.startsWith("random:"))
            return RandomModel.create(
                    spec.substring(7), o.device(), o.dtype() == null ? DType.BF16 : o.dtype(), o.seed());
        Path path = Path.of(spec);
        if (!Files.exists(path) && !path.isAbsolute()) path = shipped(spec, path);
        if (!Files.exists(path)) throw new CheckpointException(path.toAbsolutePath() + ": no such file or folder");
        try {
            if (Files.isDirectory(path)) {
                if (Files.isRegularFile(path.resolve("config.json")))
                    return HfCheckpoint.load(path, o.device(), o.dtype());
                try (var files = Files.list(path)) {
                    var bins = files.filter(p -> p.toString().endsWith(".bin")
                                    && !p.getFileName().toString().matches("tok.*\\.bin"))
                            .toList();
                    if (bins.size() == 1) return loadLlama2c(bins.get(0), o);
                }
                throw new CheckpointException(
                        path + ": neither a Hugging Face folder (config.json) nor a folder with one llama2.c .bin");
            }
            if (path.toString().endsWith(".bin")) return loadLlama2c(path, o);
            throw new CheckpointException(
                    path + ": not a model (expected a folder with config.json, or a llama2.c .bin)");
        } catch (IOException e) {
            throw new CheckpointException(path + ": " + e.getMessage(), e);
        }
    }

    /** A bare name ("stories260K") is a model in the data folder (data/models/NAME), when there is one. */
    private static Path shipped(String spec, Path asGiven) {
        try {
            return io.lowbit.data.DataFiles.find("models/" + spec);
        } catch (RuntimeException e) {
            return asGiven;
        }
    }

    private static Model loadLlama2c(Path bin, Options o) throws IOException {
        Path tokFile = Llama2cCheckpoint.findTokenizer(bin);
        Config c = Llama2cCheckpoint.readConfig(bin);
        Tokenizer tok = tokFile == null ? null : Llama2cTokenizer.load(tokFile, c.vocabSize());
        return Llama2cCheckpoint.load(bin, tok, o.device(), o.dtype() == null ? DType.F32 : o.dtype());
    }

    /**
     * A model from tensors under their Hugging Face names (ownership passes to the model) with the
     * tokenizer found in {@code folder}: for readers of other checkpoint formats (GPTQ's).
     */
    public static Model of(
            Config c, java.util.Map<String, io.lowbit.torch.Tensor> weights, Path folder, Device device) {
        return Model.of(c, weights, HfCheckpoint.tokenizer(folder, c), device, folder.toString());
    }

    /** Saves as a Hugging Face folder: config.json, safetensors (sharded above 4 GiB), tokenizer files when known. */
    public static void save(Model m, Path folder) {
        HfCheckpoint.save(m, folder);
    }
}
