package io.lowbit.quant;

import com.google.gson.GsonBuilder;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import io.lowbit.model.CheckpointException;
import io.lowbit.model.Config;
import io.lowbit.model.Linear;
import io.lowbit.model.Llama2cTokenizer;
import io.lowbit.model.Model;
import io.lowbit.model.Models;
import io.lowbit.model.ShardedCheckpoint;
import io.lowbit.torch.DType;
import io.lowbit.torch.Device;
import io.lowbit.torch.Scope;
import io.lowbit.torch.Tensor;
import io.lowbit.torch.Torch;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The GPTQ checkpoint format as GPTQModel, AutoGPTQ, transformers and vLLM read it (the layout of
 * IST-DASLab/gptq quant.py's QuantLinear): per linear {@code qweight} int32 [in·bits/32, out] (codes
 * packed along the input dimension), {@code qzeros} int32 [groups, out·bits/32] (zeros packed along the
 * output dimension), {@code scales} fp16 [groups, out], {@code g_idx} int32 [in] (each input column's
 * group); everything else fp16 under its Hugging Face name; config.json's {@code quantization_config}
 * says quant_method "gptq", bits, group_size, desc_act, sym and checkpoint_format.
 *
 * <p>Packing is a little-endian bit stream: value i of a packed run takes bits [i·bits, (i+1)·bits),
 * low bits first, so 2, 4 and 8 bits put 32/bits values in a word and 3 bits put 32 values in three
 * words, two of them crossing a word boundary. Weight = scale·(code − zero) with the column's group.
 *
 * <p>checkpoint_format "gptq" (v1) stores zero − 1, a quirk of the original packer; a zero of 0 would
 * store −1, which wraps to all ones in its field and reads back as 2^bits in v1 readers (GPTQModel's
 * v1→v2 conversion adds 1 to each field with carries into the next). So Lowbit writes v1 when every
 * zero is at least 1 (symmetric grids always) and "gptq_v2" (zeros as they are) otherwise.
 */
public final class GptqFormat {
    private GptqFormat() {}

    private static final String[] PROJ = {
        "attn.q",
        "self_attn.q_proj",
        "attn.k",
        "self_attn.k_proj",
        "attn.v",
        "self_attn.v_proj",
        "attn.o",
        "self_attn.o_proj",
        "mlp.gate",
        "mlp.gate_proj",
        "mlp.up",
        "mlp.up_proj",
        "mlp.down",
        "mlp.down_proj"
    };

    /** "layers.3.mlp.down" → "model.layers.3.mlp.down_proj". */
    static String hfName(String linear) {
        int dot = linear.indexOf('.', "layers.".length());
        String rest = linear.substring(dot + 1);
        for (int i = 0; i < PROJ.length; i += 2)
            if (PROJ[i].equals(rest)) return "model." + linear.substring(0, dot + 1) + PROJ[i + 1];
        throw new IllegalArgumentException("no Hugging Face name for linear " + linear);
    }

    // ---------------------------------------------------------------- bit packing

    /** Puts {@code value} (its low {@code bits}) as element {@code index} of the stream words[base + k·stride]. */
    static void put(int[] words, int base, int stride, long index, int value, int bits) {
        long p = index * bits;
        int word = (int) (p >>> 5), off = (int) (p & 31);
        int v = value & ((1 << bits) - 1);
        words[base + word * stride] |= v << off;
        if (off + bits > 32) words[base + (word + 1) * stride] |= v >>> (32 - off);
    }

    /** Element {@code index} of the stream words[base + k·stride], in [0, 2^bits). */
    static int get(int[] words, int base, int stride, long index, int bits) {
        long p = index * bits;
        int word = (int) (p >>> 5), off = (int) (p & 31);
        long both = Integer.toUnsignedLong(words[base + word * stride]) >>> off;
        if (off + bits > 32) both |= Integer.toUnsignedLong(words[base + (word + 1) * stride]) << (32 - off);
        return (int) (both & ((1 << bits) - 1));
    }

    /** values (each in [0, 2^bits)) as ⌈n·bits/32⌉ words. */
    public static int[] pack(int[] values, int bits) {
        int[] w = new int[(int) ((values.length * (long) bits + 31) / 32)];
        for (int i = 0; i < values.length; i++) put(w, 0, 1, i, values[i], bits);
        return w;
    }

    public static int[] unpack(int[] words, int bits, int count) {
        int[] v = new int[count];
        for (int i = 0; i < count; i++) v[i] = get(words, 0, 1, i, bits);
        return v;
    }

    // ---------------------------------------------------------------- export

    /**
     * Writes {@code q} in the GPTQ format (config.json with quantization_config, model.safetensors,
     * tokenizer files). Refused, with the reason, where the format cannot hold Lowbit's grid exactly:
     * kept 16-bit weights, a ragged last group, shapes not a multiple of the packing, non-uniform grids.
     */
    public static void export(QuantizedModel q, Path folder) {
        Model m = q.model();
        Grid grid = q.grid();
        int bits = grid.bits(), maxq = grid.maxq();
        String name = q.method().name();
        if (!java.util.Set.of("RTN", "GPTQ", "AWQ", "TESSERAQ").contains(name))
            throw refused(name + " does not use one uniform grid per group");
        if (q.kept() > 0) throw refused(q.kept() + " weights are kept in 16 bits");
        boolean anyZeroZero = false, descAct = false;
        int groupSize = grid.groupSize();
        for (Linear l : m.linears()) {
            QuantizedLinear ql = q.linear(l.name());
            long out = ql.codes().size(0), in = ql.codes().size(1);
            if (in * bits % 32 != 0 || out * bits % 32 != 0)
                throw refused(l.name() + " is " + out + "×" + in + "; packing " + bits
                        + "-bit values into int32 needs both " + "dimensions to fill whole words");
            long groups = ql.scales().size(1);
            if (groupSize > 0 && in > groupSize && in % groupSize != 0)
                throw refused(l.name() + ": " + in + " input columns do not split into groups of " + groupSize
                        + " (the last group is ragged)");
            long expected = groupSize > 0 ? (in + groupSize - 1) / groupSize : 1;
            if (groups != expected) throw refused(l.name() + " has " + groups + " ranges per row, not " + expected);
            int[] g = ql.groupOfColumn();
            for (int i = 0; i < g.length; i++) descAct |= g[i] != (groupSize > 0 ? i / groupSize : 0);
            float[] z = ql.zeros().toFloatArray();
            for (float v : z) {
                if (v != Math.rint(v) || v < 0 || v > maxq)
                    throw refused(l.name() + " has a zero point " + v + " off the grid");
                anyZeroZero |= v == 0;
            }
        }
        boolean v1 = !anyZeroZero;
        LinkedHashMap<String, Tensor> t = new LinkedHashMap<>();
        try (Scope s = Scope.open()) {
            Map<String, String> linearOf = new java.util.HashMap<>();
            for (Linear l : m.linears()) linearOf.put(hfName(l.name()) + ".weight", l.name());
            for (var e : m.weights().entrySet()) {
                String linear = linearOf.get(e.getKey());
                if (linear == null) { // embeddings, norms, head, and biases (Qwen2's q, k, v), as GPTQ files keep them
                    t.put(e.getKey(), e.getValue().to(Device.CPU, DType.F16));
                    continue;
                }
                QuantizedLinear ql = q.linear(linear);
                String p = hfName(linear);
                int out = (int) ql.codes().size(0),
                        in = (int) ql.codes().size(1),
                        groups = (int) ql.scales().size(1);
                int[] codes = ql.codes().to(Device.CPU, DType.I32).toIntArray();
                int rows = in * bits / 32;
                int[] qweight = new int[rows * out];
                for (int j = 0; j < out; j++)
                    for (int i = 0; i < in; i++) put(qweight, j, out, i, codes[j * in + i], bits);
                float[] zeros = ql.zeros().toFloatArray(); // [out, groups]
                int perRow = out * bits / 32;
                int[] qzeros = new int[groups * perRow];
                for (int g = 0; g < groups; g++)
                    for (int j = 0; j < out; j++)
                        put(qzeros, g * perRow, 1, j, (int) zeros[j * groups + g] - (v1 ? 1 : 0), bits);
                t.put(p + ".qweight", Torch.tensor(qweight, rows, out).to(Device.CPU));
                t.put(p + ".qzeros", Torch.tensor(qzeros, groups, perRow).to(Device.CPU));
                t.put(
                        p + ".scales",
                        ql.scales().to(Device.CPU, DType.F32).t().contiguous().to(DType.F16));
                t.put(p + ".g_idx", Torch.tensor(ql.groupOfColumn(), in).to(Device.CPU));
            }
            Files.createDirectories(folder);
            m.config().withDtype(DType.F16).writeHf(folder.resolve("config.json"));
            JsonObject config = JsonParser.parseString(Files.readString(folder.resolve("config.json")))
                    .getAsJsonObject();
            JsonObject qc = new JsonObject();
            qc.addProperty("quant_method", "gptq");
            qc.addProperty("bits", bits);
            qc.addProperty("group_size", groupSize > 0 ? groupSize : -1);
            qc.addProperty("desc_act", descAct);
            qc.addProperty("sym", grid.sym());
            qc.addProperty("checkpoint_format", v1 ? "gptq" : "gptq_v2");
            JsonObject meta = new JsonObject();
            meta.addProperty("quantizer", "lowbit");
            meta.addProperty("label", q.label());
            qc.add("meta", meta);
            config.add("quantization_config", qc);
            Files.writeString(
                    folder.resolve("config.json"),
                    new GsonBuilder().setPrettyPrinting().create().toJson(config));
            io.lowbit.model.Safetensors.write(folder.resolve("model.safetensors"), t, Map.of("format", "pt"));
            copyTokenizer(m, folder);
        } catch (IOException e) {
            throw new UncheckedIOException(folder + ": cannot export (" + e.getMessage() + ")", e);
        }
    }

    private static IllegalArgumentException refused(String why) {
        return new IllegalArgumentException("the GPTQ format cannot hold this model exactly: " + why
                + ". Export HF_DENSE instead (a dense bf16 checkpoint of the same weights).");
    }

    /** The tokenizer's files beside the weights (llama2.c's as tokenizer.bin, as Lowbit saves it). */
    static void copyTokenizer(Model m, Path folder) throws IOException {
        if (m.tokenizer() == null) return;
        for (Path f : m.tokenizer().files()) {
            String n = m.tokenizer() instanceof Llama2cTokenizer
                    ? "tokenizer.bin"
                    : f.getFileName().toString();
            Path target = folder.resolve(n);
            if (!Files.exists(target) || !Files.isSameFile(f, target))
                Files.copy(f, target, StandardCopyOption.REPLACE_EXISTING);
        }
    }

    // ---------------------------------------------------------------- import

    /** Whether {@code folder} holds a GPTQ-format checkpoint (config.json's quantization_config says "gptq"). */
    public static boolean is(Path folder) {
        Path c = folder.resolve("config.json");
        if (!Files.isRegularFile(c)) return false;
        try {
            JsonObject j = JsonParser.parseString(Files.readString(c)).getAsJsonObject();
            return j.has("quantization_config")
                    && "gptq"
                            .equals(j.getAsJsonObject("quantization_config")
                                    .get("quant_method")
                                    .getAsString());
        } catch (IOException | RuntimeException e) {
            return false;
        }
    }

    /**
     * Loads a GPTQ-format checkpoint (Lowbit's own export or another tool's, checkpoint_format "gptq" or
     * "gptq_v2") onto the default device: float32 weights scale·(code − zero), the codes beside them.
     */
    public static QuantizedModel load(Path folder) {
        return load(folder, Device.defaultDevice());
    }

    /** {@link #load(Path)} with the dense model on {@code device} (the codes stay in host memory). */
    public static QuantizedModel load(Path folder, Device device) {
        Config c = Config.readHf(folder.resolve("config.json"));
        JsonObject qc;
        try {
            qc = JsonParser.parseString(Files.readString(folder.resolve("config.json")))
                    .getAsJsonObject()
                    .getAsJsonObject("quantization_config");
        } catch (IOException e) {
            throw new CheckpointException(folder + ": " + e.getMessage(), e);
        }
        if (qc == null || !"gptq".equals(qc.get("quant_method").getAsString()))
            throw new CheckpointException(
                    folder + ": config.json has no quantization_config with quant_method \"gptq\"");
        int bits = qc.get("bits").getAsInt();
        int groupSize = qc.has("group_size") ? qc.get("group_size").getAsInt() : -1;
        boolean sym = qc.has("sym") && qc.get("sym").getAsBoolean();
        boolean descAct = qc.has("desc_act") && qc.get("desc_act").getAsBoolean();
        String format =
                qc.has("checkpoint_format") ? qc.get("checkpoint_format").getAsString() : "gptq";
        if (!format.equals("gptq") && !format.equals("gptq_v2"))
            throw new CheckpointException(
                    folder + ": checkpoint_format " + format + " is not GPTQ's (gptq or gptq_v2)");
        if (bits != 2 && bits != 3 && bits != 4 && bits != 8)
            throw new CheckpointException(folder + ": " + bits + "-bit GPTQ checkpoints do not exist (2, 3, 4 or 8)");
        int zeroOffset = format.equals("gptq") ? 1 : 0;
        Grid grid = Grid.bits(bits).groups(groupSize > 0 ? groupSize : -1);
        if (sym) grid = grid.symmetric();
        Map<String, Tensor> w = new LinkedHashMap<>();
        Map<String, QuantizedLinear> ls = new LinkedHashMap<>();
        try (ShardedCheckpoint ck = ShardedCheckpoint.open(folder);
                Scope s = Scope.open()) {
            for (String n : Model.expectedTensors(c).keySet()) {
                if (ck.names().contains(n)) {
                    w.put(n, ck.load(n, device).to(DType.F32));
                    continue;
                }
                String p = n.substring(0, n.length() - ".weight".length());
                if (!n.endsWith(".weight") || !ck.names().contains(p + ".qweight"))
                    throw new CheckpointException(
                            folder + ": tensor '" + n + "' is missing, dense or as " + n.replace("weight", "qweight"));
                String name = p.substring("model.".length())
                        .replace("self_attn.", "attn.")
                        .replace("_proj", "");
                QuantizedLinear ql = linear(ck, p, name, bits, groupSize, zeroOffset, folder);
                ls.put(name, ql);
                try (Scope inner = Scope.open()) {
                    Tensor idx = Torch.tensor(ql.groupOfColumn(), ql.groupOfColumn().length)
                            .to(Device.CPU, DType.I64);
                    Tensor dense = ql.codes()
                            .to(DType.F32)
                            .sub(ql.zeros().indexSelect(1, idx))
                            .mul(ql.scales().indexSelect(1, idx));
                    w.put(n, inner.keep(dense.to(device)));
                }
            }
            for (Tensor x : w.values()) s.keep(x);
        } catch (RuntimeException e) {
            for (QuantizedLinear q : ls.values()) q.close();
            throw e;
        }
        Model m = Models.of(c.withDtype(DType.F32), w, folder, device);
        Method method = Gptq.Options.defaults().actOrder(descAct);
        return new QuantizedModel(m, method, grid, ls, 0);
    }

    /**
     * What {@code Lowbit.load} opens: a GPTQ-format or Lowbit packed folder as its dense model (the codes
     * dropped), anything else as {@link Models#load(String, Models.Options)} does.
     */
    public static Model loadModel(String spec, Models.Options o) {
        Path folder = Path.of(spec);
        boolean gptq = is(folder);
        if (!gptq && !PackedFormat.is(folder)) return Models.load(spec, o);
        QuantizedModel q = gptq ? load(folder, o.device()) : PackedFormat.load(folder, o.device());
        for (Linear l : q.model().linears()) q.linear(l.name()).close();
        return o.dtype() == null || o.dtype() == q.model().dtype() ? q.model() : convert(q.model(), o.dtype());
    }

    private static Model convert(Model m, DType dtype) {
        try (m) {
            return m.to(dtype);
        }
    }

    /** A GPTQ-format folder, a packed one ({@link PackedFormat}) or one {@link QuantizedModel#save} wrote. */
    public static QuantizedModel loadQuantized(String folder) {
        Path f = Path.of(folder);
        return is(f) ? load(f) : QuantizedModel.load(f);
    }

    private static QuantizedLinear linear(
            ShardedCheckpoint ck, String p, String name, int bits, int groupSize, int zeroOffset, Path folder) {
        try (Scope s = Scope.open()) {
            Tensor qw = ck.load(p + ".qweight", Device.CPU), qz = ck.load(p + ".qzeros", Device.CPU);
            Tensor sc = ck.load(p + ".scales", Device.CPU);
            int rows = (int) qw.size(0), out = (int) qw.size(1), groups = (int) sc.size(0);
            int in = rows * 32 / bits;
            if (qw.dtype() != DType.I32
                    || qz.dtype() != DType.I32
                    || sc.size(1) != out
                    || qz.size(0) != groups
                    || qz.size(1) * 32 / bits != out)
                throw new CheckpointException(
                        folder + ": " + p + " has qweight " + java.util.Arrays.toString(qw.shape()) + " "
                                + qw.dtype() + ", qzeros " + java.util.Arrays.toString(qz.shape()) + " " + qz.dtype()
                                + ", scales "
                                + java.util.Arrays.toString(sc.shape()) + ": not a " + bits + "-bit GPTQ layout");
            int[] words = qw.toIntArray(), zw = qz.toIntArray();
            byte[] codes = new byte[out * in];
            for (int j = 0; j < out; j++)
                for (int i = 0; i < in; i++) codes[j * in + i] = (byte) get(words, j, out, i, bits);
            int perRow = (int) qz.size(1);
            float[] zeros = new float[out * groups];
            for (int g = 0; g < groups; g++)
                for (int j = 0; j < out; j++) zeros[j * groups + g] = get(zw, g * perRow, 1, j, bits) + zeroOffset;
            int[] gIdx = new int[in];
            if (ck.names().contains(p + ".g_idx"))
                gIdx = ck.load(p + ".g_idx", Device.CPU).toIntArray();
            else for (int i = 0; i < in; i++) gIdx[i] = groupSize > 0 ? i / groupSize : 0;
            for (int g : gIdx)
                if (g < 0 || g >= groups)
                    throw new CheckpointException(folder + ": " + p + ".g_idx names group " + g + " of " + groups);
            Tensor codesT = s.keep(Torch.tensor(codes, DType.U8, out, in).to(Device.CPU));
            Tensor scalesT = s.keep(sc.to(DType.F32).t().contiguous());
            Tensor zerosT = s.keep(Torch.tensor(zeros, out, groups).to(Device.CPU));
            return new QuantizedLinear(
                    name,
                    bits,
                    groupSize,
                    codesT.escape(),
                    scalesT.escape(),
                    zerosT.escape(),
                    gIdx,
                    null,
                    0,
                    Double.NaN);
        }
    }
}
