package io.lowbit.quant;

import com.google.gson.GsonBuilder;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import io.lowbit.model.CheckpointException;
import io.lowbit.model.Config;
import io.lowbit.model.Linear;
import io.lowbit.model.Model;
import io.lowbit.model.Models;
import io.lowbit.model.Safetensors;
import io.lowbit.torch.DType;
import io.lowbit.torch.Device;
import io.lowbit.torch.Scope;
import io.lowbit.torch.Tensor;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Lowbit's packed folder: config.json, the tokenizer, quantization.json (format "lowbit-packed/1",
 * method, options, grid) and one model.safetensors with the unquantized tensors under their Hugging
 * Face names plus, per linear (e.g. model.layers.0.self_attn.q_proj), {@link PackedLinear#tensors}:
 * .qweight, .scales, .zeros, .g_idx, .kept_row_start, .kept_columns, .kept_values. Only what the
 * model needs is stored: the dense weights are rebuilt from it on load.
 */
public final class PackedFormat {
    private PackedFormat() {}

    static final String FORMAT = "lowbit-packed/1";

    public static void save(QuantizedModel q, Path folder) {
        Model m = q.model();
        LinkedHashMap<String, Tensor> t = new LinkedHashMap<>();
        Map<String, String> linearOf = new java.util.HashMap<>();
        for (Linear l : m.linears()) linearOf.put(GptqFormat.hfName(l.name()) + ".weight", l.name());
        java.util.List<PackedLinear> packed = new java.util.ArrayList<>();
        try {
            for (var e : m.weights().entrySet()) {
                String linear = linearOf.get(e.getKey());
                if (linear == null) {
                    t.put(e.getKey(), e.getValue());
                    continue;
                }
                PackedLinear p = q.packed(linear);
                packed.add(p);
                t.putAll(p.tensors(GptqFormat.hfName(linear)));
            }
            Files.createDirectories(folder);
            m.config().withDtype(m.dtype()).writeHf(folder.resolve("config.json"));
            Safetensors.write(folder.resolve("model.safetensors"), t, Map.of("format", "lowbit-packed"));
            JsonObject j = new JsonObject();
            j.addProperty("format", FORMAT);
            j.addProperty("method", q.method().name());
            j.add("options", QuantizedModel.optionsJson(q.method()));
            j.addProperty("bits", q.grid().bits());
            j.addProperty("group_size", q.grid().groupSize());
            j.addProperty("symmetric", q.grid().sym());
            j.addProperty("mse", q.grid().mseSearch());
            j.addProperty("seconds", q.seconds());
            JsonObject losses = new JsonObject();
            for (Linear l : m.linears())
                losses.addProperty(l.name(), q.linear(l.name()).loss());
            j.add("loss", losses);
            Files.writeString(
                    folder.resolve("quantization.json"),
                    new GsonBuilder().setPrettyPrinting().create().toJson(j));
            GptqFormat.copyTokenizer(m, folder);
        } catch (IOException e) {
            throw new UncheckedIOException(folder + ": cannot save (" + e.getMessage() + ")", e);
        } finally {
            for (PackedLinear p : packed) p.close();
        }
    }

    /** Whether quantization.json in {@code folder} says this format. */
    static boolean is(Path folder) {
        try {
            JsonObject j = JsonParser.parseString(Files.readString(folder.resolve("quantization.json")))
                    .getAsJsonObject();
            return j.has("format") && FORMAT.equals(j.get("format").getAsString());
        } catch (IOException | RuntimeException e) {
            return false;
        }
    }

    /** Loads what {@link #save} wrote onto {@code device}: dense weights rebuilt, codes and masks beside them. */
    public static QuantizedModel load(Path folder, Device device) {
        JsonObject j;
        try {
            j = JsonParser.parseString(Files.readString(folder.resolve("quantization.json")))
                    .getAsJsonObject();
        } catch (IOException | RuntimeException e) {
            throw new CheckpointException(
                    folder.resolve("quantization.json") + ": unreadable (" + e.getMessage() + ")", e);
        }
        Grid grid =
                Grid.bits(j.get("bits").getAsInt()).groups(j.get("group_size").getAsInt());
        if (j.get("symmetric").getAsBoolean()) grid = grid.symmetric();
        if (j.get("mse").getAsBoolean()) grid = grid.mse();
        Config c = Config.readHf(folder.resolve("config.json"));
        Map<String, Tensor> w = new LinkedHashMap<>();
        Map<String, QuantizedLinear> ls = new LinkedHashMap<>();
        try (Safetensors st = Safetensors.open(folder.resolve("model.safetensors"));
                Scope s = Scope.open()) {
            for (String n : Model.expectedTensors(c).keySet()) {
                if (st.names().contains(n)) {
                    w.put(n, st.load(n, device));
                    continue;
                }
                String p = n.substring(0, n.length() - ".weight".length());
                String name = p.substring("model.".length())
                        .replace("self_attn.", "attn.")
                        .replace("_proj", "");
                try (PackedLinear pl = PackedLinear.read(st, p, name, grid.bits())) {
                    w.put(n, pl.weight(c.dtype()).to(device));
                    ls.put(
                            name,
                            quantized(
                                    pl,
                                    grid,
                                    j.getAsJsonObject("loss").get(name).getAsDouble()));
                }
            }
            for (Tensor x : w.values()) s.keep(x);
        } catch (RuntimeException e) {
            for (QuantizedLinear q : ls.values()) q.close();
            throw e;
        }
        Model m = Models.of(c, w, folder, device);
        JsonObject options = j.has("options") ? j.getAsJsonObject("options") : new JsonObject();
        return new QuantizedModel(
                m,
                QuantizedModel.options(j.get("method").getAsString(), options),
                grid,
                ls,
                j.get("seconds").getAsDouble());
    }

    /** The unpacked record: codes u8, scales and zeros float32, the kept mask from the sparse rows. */
    private static QuantizedLinear quantized(PackedLinear p, Grid grid, double loss) {
        try (Scope s = Scope.open()) {
            Tensor keep = null;
            if (p.kept() > 0) {
                boolean[] mask = new boolean[(int) (p.rows() * p.cols())];
                int[] start = p.rowStart().toIntArray(), cols = p.keptColumns().toIntArray();
                for (int r = 0; r + 1 < start.length; r++)
                    for (int k = start[r]; k < start[r + 1]; k++) mask[(int) (r * p.cols()) + cols[k]] = true;
                keep = s.keep(io.lowbit.torch.Torch.tensor(mask, p.rows(), p.cols())
                                .to(Device.CPU))
                        .escape();
            }
            return new QuantizedLinear(
                    p.name(),
                    grid.bits(),
                    grid.groupSize(),
                    s.keep(p.codes().to(DType.U8)).escape(),
                    s.keep(p.scales().to(DType.F32)).escape(),
                    s.keep(p.zeros().to(DType.F32)).escape(),
                    p.groupOfColumn().toIntArray(),
                    keep,
                    p.kept(),
                    loss);
        }
    }
}
