package io.lowbit.model;

import io.lowbit.torch.DType;
import io.lowbit.torch.Device;
import io.lowbit.torch.Scope;
import io.lowbit.torch.Tensor;
import io.lowbit.torch.Torch;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * llama2.c's legacy checkpoint: a header of 7 int32 (dim, hidden_dim, n_layers, n_heads,
 * n_kv_heads, vocab_size, seq_len; a negative vocab_size means a separate classifier follows), then
 * float32 tensors in a fixed order. Its q/k rows pair dimensions (2i, 2i+1) for RoPE; they are
 * permuted here into the Hugging Face layout (i, i + d/2) so one RoPE serves every format.
 */
public final class Llama2cCheckpoint {
    private Llama2cCheckpoint() {}

    private static final ValueLayout.OfInt INT = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    /** The config in a checkpoint's header. */
    public static Config readConfig(Path file) {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ);
                Arena arena = Arena.ofConfined()) {
            if (ch.size() < 28)
                throw new CheckpointException(
                        file + ": " + ch.size() + " bytes, too short for the 28-byte llama2.c header");
            MemorySegment m = ch.map(FileChannel.MapMode.READ_ONLY, 0, 28, arena);
            return configOf(file, m);
        } catch (IOException e) {
            throw new CheckpointException(file + ": cannot read (" + e.getMessage() + ")", e);
        }
    }

    private static Config configOf(Path file, MemorySegment m) {
        String[] names = {"dim", "hidden_dim", "n_layers", "n_heads", "n_kv_heads", "vocab_size", "seq_len"};
        int[] h = new int[7];
        for (int i = 0; i < 7; i++) h[i] = m.get(INT, 4L * i);
        for (int i = 0; i < 7; i++)
            if (h[i] == 0 || (i != 5 && h[i] < 0) || Math.abs((long) h[i]) > 1 << 24)
                throw new CheckpointException(
                        file + ": header field '" + names[i] + "' = " + h[i] + " is not a plausible size");
        if (h[0] % h[3] != 0)
            throw new CheckpointException(
                    file + ": header field 'dim' = " + h[0] + " is not a multiple of n_heads " + h[3]);
        if (h[3] % h[4] != 0)
            throw new CheckpointException(
                    file + ": header field 'n_kv_heads' = " + h[4] + " does not divide n_heads " + h[3]);
        boolean shared = h[5] > 0;
        return new Config(
                Config.Architecture.LLAMA,
                Math.abs(h[5]),
                h[0],
                h[1],
                h[2],
                h[3],
                h[4],
                h[0] / h[3],
                h[6],
                10000.0,
                null,
                1e-5,
                shared,
                1,
                2,
                DType.F32);
    }

    /** Loads the weights onto {@code device} in {@code dtype}; on any failure nothing stays allocated. */
    public static Model load(Path file, Tokenizer tokenizer, Device device, DType dtype) {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ);
                Arena arena = Arena.ofConfined()) {
            MemorySegment m = ch.map(FileChannel.MapMode.READ_ONLY, 0, ch.size(), arena);
            if (m.byteSize() < 28)
                throw new CheckpointException(file + ": " + m.byteSize() + " bytes, too short for the llama2.c header");
            Config c = configOf(file, m).withDtype(dtype);
            long d = c.hiddenSize(),
                    f = c.intermediateSize(),
                    layers = c.numLayers(),
                    kv = c.kvDim(),
                    v = c.vocabSize();
            long hs = c.headDim();
            long floats = v * d
                    + layers * (d + d * d + 2 * d * kv + d * d + d + 3 * d * f)
                    + d
                    + (long) c.maxPositions() * hs
                    + (c.tieWordEmbeddings() ? 0 : v * d);
            long expected = 28 + 4 * floats;
            if (m.byteSize() != expected)
                throw new CheckpointException(
                        file + ": " + m.byteSize() + " bytes, but its header (dim " + d + ", hidden_dim " + f
                                + ", n_layers " + layers + ", vocab_size " + v + ", seq_len " + c.maxPositions()
                                + ") implies " + expected
                                + (m.byteSize() < expected ? " (truncated?)" : ""));
            MemoryBudget.ensureFits(file.toString(), c, dtype, device);
            Map<String, Tensor> w = new LinkedHashMap<>();
            try (Scope scope = Scope.open()) {
                Reader r = new Reader(m, device, dtype);
                w.put("model.embed_tokens.weight", r.next(v, d));
                Tensor[] attnNorm = r.stack(layers, d),
                        q = r.stack(layers, d, d),
                        k = r.stack(layers, kv, d),
                        vv = r.stack(layers, kv, d);
                Tensor[] o = r.stack(layers, d, d), mlpNorm = r.stack(layers, d), gate = r.stack(layers, f, d);
                Tensor[] down = r.stack(layers, d, f), up = r.stack(layers, f, d);
                w.put("model.norm.weight", r.next(d));
                r.skip((long) c.maxPositions() * hs); // the legacy format's precomputed RoPE tables, unused
                if (!c.tieWordEmbeddings()) w.put("lm_head.weight", r.next(v, d));
                for (int i = 0; i < layers; i++) {
                    String p = "model.layers." + i + ".";
                    w.put(p + "input_layernorm.weight", attnNorm[i]);
                    w.put(p + "self_attn.q_proj.weight", toHfRotary(q[i], c.numHeads(), hs));
                    w.put(p + "self_attn.k_proj.weight", toHfRotary(k[i], c.numKvHeads(), hs));
                    w.put(p + "self_attn.v_proj.weight", vv[i]);
                    w.put(p + "self_attn.o_proj.weight", o[i]);
                    w.put(p + "post_attention_layernorm.weight", mlpNorm[i]);
                    w.put(p + "mlp.gate_proj.weight", gate[i]);
                    w.put(p + "mlp.up_proj.weight", up[i]);
                    w.put(p + "mlp.down_proj.weight", down[i]);
                }
                return Model.of(c, w, tokenizer, device, file.toString()); // takes the weights out of the scope
            }
        } catch (IOException e) {
            throw new CheckpointException(file + ": cannot read (" + e.getMessage() + ")", e);
        }
    }

    /** Rows (2i, 2i+1) of each head become rows (i, i + d/2). */
    static Tensor toHfRotary(Tensor w, long heads, long headDim) {
        long in = w.size(1);
        return w.view(heads, headDim / 2, 2, in)
                .transpose(1, 2)
                .reshape(heads * headDim, in)
                .contiguous();
    }

    /** Reads consecutive float32 tensors from the mapped file. */
    private static final class Reader {
        private final MemorySegment m;
        private final Device device;
        private final DType dtype;
        private long offset = 28;

        Reader(MemorySegment m, Device device, DType dtype) {
            this.m = m;
            this.device = device;
            this.dtype = dtype;
        }

        Tensor next(long... shape) {
            Interrupts.check(); // the loader's scope frees what was read so far
            long n = 1;
            for (long s : shape) n *= s;
            Tensor t = Torch.fromNative(m.asSlice(offset, 4 * n), DType.F32, shape, device);
            offset += 4 * n;
            return dtype == DType.F32 ? t : t.to(dtype);
        }

        Tensor[] stack(long layers, long... shape) {
            Tensor[] out = new Tensor[(int) layers];
            for (int i = 0; i < layers; i++) out[i] = next(shape);
            return out;
        }

        void skip(long floats) {
            offset += 4 * floats;
        }
    }

    /** The tokenizer beside a checkpoint: tokenizer.bin, or the single tok*.bin in the same folder. */
    static Path findTokenizer(Path checkpoint) throws IOException {
        Path dir = checkpoint.toAbsolutePath().getParent();
        Path plain = dir.resolve("tokenizer.bin");
        if (Files.isRegularFile(plain)) return plain;
        try (var files = Files.list(dir)) {
            var found = files.filter(p -> p.getFileName().toString().matches("tok.*\\.bin"))
                    .toList();
            if (found.size() == 1) return found.get(0);
        }
        return null;
    }
}
