package io.lowbit.model;

import io.lowbit.torch.DType;
import io.lowbit.torch.Device;
import io.lowbit.torch.Scope;
import io.lowbit.torch.Tensor;
import io.lowbit.torch.Torch;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * {@code random:<preset>}: a model with seeded random weights at a real architecture's shapes, made
 * directly on the target device (an 8B model never passes through the Java heap). For benchmarks
 * and tests; there is no tokenizer.
 */
public final class RandomModel {
    private RandomModel() {}

    /** The preset names and their configs (float32; the caller picks the dtype). */
    public static Config preset(String name) {
        return switch (name) {
            case "tiny" ->
                new Config(
                        Config.Architecture.LLAMA,
                        512,
                        64,
                        172,
                        2,
                        4,
                        2,
                        16,
                        256,
                        10000,
                        null,
                        1e-5,
                        false,
                        1,
                        2,
                        DType.F32);
            case "tiny-qwen2" ->
                new Config(
                        Config.Architecture.QWEN2,
                        512,
                        64,
                        172,
                        2,
                        4,
                        2,
                        16,
                        256,
                        1e6,
                        null,
                        1e-6,
                        true,
                        1,
                        2,
                        DType.F32);
            case "llama2-7b" ->
                new Config(
                        Config.Architecture.LLAMA,
                        32000,
                        4096,
                        11008,
                        32,
                        32,
                        32,
                        128,
                        4096,
                        10000,
                        null,
                        1e-5,
                        false,
                        1,
                        2,
                        DType.F32);
            case "llama3-8b" ->
                new Config(
                        Config.Architecture.LLAMA,
                        128256,
                        4096,
                        14336,
                        32,
                        32,
                        8,
                        128,
                        8192,
                        500000,
                        new Config.RopeScaling(8, 1, 4, 8192),
                        1e-5,
                        false,
                        128000,
                        128001,
                        DType.F32);
            case "qwen2.5-7b" ->
                new Config(
                        Config.Architecture.QWEN2,
                        152064,
                        3584,
                        18944,
                        28,
                        28,
                        4,
                        128,
                        32768,
                        1e6,
                        null,
                        1e-6,
                        false,
                        151643,
                        151643,
                        DType.F32);
            default ->
                throw new IllegalArgumentException(
                        "unknown preset 'random:" + name
                                + "' (use random:tiny, random:tiny-qwen2, random:llama2-7b, random:llama3-8b, random:qwen2.5-7b)");
        };
    }

    public static Model create(String name, Device device, DType dtype, long seed) {
        return create(preset(name).withDtype(dtype), "random:" + name, device, seed);
    }

    /** With a tokenizer (ids must fit the preset's vocabulary), for benchmarks that need text. */
    /** Weights ~ N(0, 0.02²), norms 1 (+ a little noise, so tests see them matter), biases small. */
    public static Model create(Config c, String source, Device device, long seed) {
        return create(c, source, device, seed, null);
    }

    /** A config of one's own with random weights and an optional tokenizer (its ids must fit the vocabulary). */
    public static Model create(Config c, String source, Device device, long seed, Tokenizer tokenizer) {
        MemoryBudget.ensureFits(source, c, c.dtype(), device);
        Torch.manualSeed(seed);
        Map<String, Tensor> w = new LinkedHashMap<>();
        try (Scope s = Scope.open()) {
            for (var e : Model.expectedTensors(c).entrySet()) {
                Interrupts.check(); // the scope frees what was made so far
                String n = e.getKey();
                Tensor t = Torch.randn(c.dtype(), device, e.getValue());
                if (n.endsWith("layernorm.weight") || n.equals("model.norm.weight"))
                    t = t.mul(0.1).add(1);
                else t.mulInPlace(n.endsWith(".bias") ? 0.01 : 0.02); // in place: no second copy of an 8B model
                w.put(n, t);
            }
            return Model.of(c, w, tokenizer, device, source);
        }
    }
}
