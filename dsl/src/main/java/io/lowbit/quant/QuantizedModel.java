package io.lowbit.quant;

import com.google.gson.GsonBuilder;
import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonNull;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import io.lowbit.model.CheckpointException;
import io.lowbit.model.Model;
import io.lowbit.model.Models;
import io.lowbit.model.Safetensors;
import io.lowbit.torch.Tensor;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.reflect.RecordComponent;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A quantized model: the dense dequantized model for evaluation ("fake quant", kept weights in
 * place) plus, per linear, its codes, scales, zeros and kept mask; it knows its bit cost both ways.
 */
public final class QuantizedModel implements AutoCloseable {
    private final Model model;
    private final Method method;
    private final Grid grid;
    private final Map<String, QuantizedLinear> linears;
    private final double seconds;
    private final List<Tesseraq.BlockLoss> reconstruction;
    private final Map<String, Double> phases;

    QuantizedModel(Model model, Method method, Grid grid, Map<String, QuantizedLinear> linears, double seconds) {
        this(model, method, grid, linears, seconds, List.of(), Map.of());
    }

    QuantizedModel(
            Model model,
            Method method,
            Grid grid,
            Map<String, QuantizedLinear> linears,
            double seconds,
            List<Tesseraq.BlockLoss> reconstruction,
            Map<String, Double> phases) {
        this.model = model;
        this.method = method;
        this.grid = grid;
        this.linears = Map.copyOf(linears);
        this.seconds = seconds;
        this.reconstruction = List.copyOf(reconstruction);
        this.phases = java.util.Collections.unmodifiableMap(new java.util.LinkedHashMap<>(phases));
    }

    /** Seconds per phase of the run (GPTQ: "hessian", "sweep", "propagate"), empty where not measured. */
    public Map<String, Double> phases() {
        return phases;
    }

    /** Per block, TesseraQ's reconstruction losses (empty for the other methods). */
    public List<Tesseraq.BlockLoss> reconstruction() {
        return reconstruction;
    }

    /** The dense model with dequantized weights: evaluate, generate or save it like any model. */
    public Model model() {
        return model;
    }
    /** The options that made it (an algorithm's record: {@code name()} says which). */
    public Method method() {
        return method;
    }

    public Grid grid() {
        return grid;
    }

    public double seconds() {
        return seconds;
    }

    public QuantizedLinear linear(String name) {
        return linears.get(name);
    }

    /** The method with its non-default options and the grid: "GPTQ act-order W3 g128". */
    public String label() {
        return method.label() + " " + grid;
    }

    /**
     * The dense model's {@link Model#fingerprint()} with the options and grid that made it: two models
     * quantized differently never share a cached result, even if their weights' sums agree.
     */
    public String fingerprint() {
        return model.fingerprint() + "|" + label();
    }

    public long weights() {
        return linears.values().stream().mapToLong(QuantizedLinear::numel).sum();
    }

    public long kept() {
        return linears.values().stream().mapToLong(QuantizedLinear::kept).sum();
    }

    /**
     * The papers' convention: N·(1 − r) + 32·r, r the kept fraction (scales and zeros not counted); CLAQ:
     * each column's width, 16 per reserved weight, codebooks not counted ({@link QuantizedLinear#paperBits}).
     */
    public double paperBits() {
        if (linears.values().stream().anyMatch(l -> l.codebooks() != null))
            return linears.values().stream()
                            .mapToDouble(QuantizedLinear::paperBits)
                            .sum()
                    / weights();
        double r = (double) kept() / weights();
        return grid.bits() * (1 - r) + 32 * r;
    }

    /** Weights CLAQ left exact as outliers (its reservation), 0 for the other methods. */
    public long reserved() {
        return linears.values().stream()
                .filter(l -> l.codebooks() != null)
                .mapToLong(l -> java.util.Arrays.stream(l.codebooks().reservedPerColumn())
                        .asLongStream()
                        .sum())
                .sum();
    }

    /** What storage really takes per weight: codes, every scale and zero, and kept weights at 32 bits. */
    public double storageBits() {
        return linears.values().stream()
                        .mapToDouble(QuantizedLinear::storageBits)
                        .sum()
                / weights();
    }

    /** Linear {@code name} in its packed form (codes in int32 words, kept weights sparse); the caller closes it. */
    public PackedLinear packed(String name) {
        return PackedLinear.of(linears.get(name), model.linear(name).weight());
    }

    /** Bytes by part (codes, scales, outliers, the dense rest), from the packed tensors themselves. */
    public Memory memory() {
        long codes = 0, scales = 0, outliers = 0, other = 0;
        java.util.Set<String> packed = new java.util.HashSet<>();
        for (var l : model.linears()) {
            try (PackedLinear p = packed(l.name())) {
                codes += p.codeBytes();
                scales += p.scaleBytes();
                outliers += p.outlierBytes();
            }
            packed.add(GptqFormat.hfName(l.name()) + ".weight");
        }
        for (var e : model.weights().entrySet())
            if (!packed.contains(e.getKey())) other += e.getValue().byteSize();
        return new Memory(codes, scales, outliers, other, weights());
    }

    /**
     * Saves as a folder: the dense model (config.json, safetensors, tokenizer) loadable by any
     * Hugging Face tool, plus quantization.safetensors (codes, scales, zeros, kept masks) and
     * quantization.json (method and its options, grid, bit accounting).
     */
    public void save(Path folder) {
        Models.save(model, folder);
        LinkedHashMap<String, Tensor> t = new LinkedHashMap<>();
        for (Model.Block b : model.blocks())
            for (var l : b.linears()) {
                QuantizedLinear q = linears.get(l.name());
                t.put(l.name() + ".codes", q.codes());
                if (q.scales() != null) t.put(l.name() + ".scales", q.scales());
                if (q.zeros() != null) t.put(l.name() + ".zeros", q.zeros());
                if (q.keep() != null) t.put(l.name() + ".keep", q.keep());
                if (q.codebooks() != null) {
                    t.put(l.name() + ".codebooks", q.codebooks().centroids());
                    t.put(l.name() + ".reserved", q.codebooks().reserved());
                }
            }
        JsonObject j = new JsonObject();
        j.addProperty("format", "lowbit-quantized/1");
        j.addProperty("method", method.name());
        j.add("options", optionsJson(method));
        j.addProperty("bits", grid.bits());
        j.addProperty("group_size", grid.groupSize());
        j.addProperty("symmetric", grid.sym());
        j.addProperty("mse", grid.mseSearch());
        j.addProperty("kept", kept());
        j.addProperty("weights", weights());
        j.addProperty("paper_bits", paperBits());
        j.addProperty("storage_bits", storageBits());
        j.addProperty("seconds", seconds);
        JsonObject losses = new JsonObject();
        JsonObject groups = new JsonObject(), columnBits = new JsonObject();
        for (var e : linears.entrySet()) {
            losses.addProperty(e.getKey(), e.getValue().loss());
            groups.add(
                    e.getKey(),
                    new com.google.gson.Gson().toJsonTree(e.getValue().groupOfColumn()));
            if (e.getValue().codebooks() != null)
                columnBits.add(
                        e.getKey(),
                        new com.google.gson.Gson()
                                .toJsonTree(e.getValue().codebooks().columnBits()));
        }
        j.add("loss", losses);
        j.add("group_of_column", groups);
        if (!columnBits.isEmpty()) j.add("column_bits", columnBits); // CLAQ: each column's width
        try {
            Safetensors.write(folder.resolve("quantization.safetensors"), t, Map.of("format", "lowbit"));
            Files.writeString(
                    folder.resolve("quantization.json"),
                    new GsonBuilder().setPrettyPrinting().create().toJson(j));
        } catch (IOException e) {
            throw new UncheckedIOException(folder + ": cannot save (" + e.getMessage() + ")", e);
        }
    }

    /** Loads what {@link #save} (or {@link PackedFormat#save}) wrote, onto the default device. */
    public static QuantizedModel load(Path folder) {
        if (PackedFormat.is(folder)) return PackedFormat.load(folder, io.lowbit.torch.Device.defaultDevice());
        Path manifest = folder.resolve("quantization.json");
        if (!Files.isRegularFile(manifest))
            throw new CheckpointException(manifest + ": missing (not a folder saved from a QuantizedModel)");
        JsonObject j;
        try {
            j = JsonParser.parseString(Files.readString(manifest)).getAsJsonObject();
        } catch (IOException | RuntimeException e) {
            throw new CheckpointException(manifest + ": unreadable (" + e.getMessage() + ")", e);
        }
        Grid grid =
                Grid.bits(j.get("bits").getAsInt()).groups(j.get("group_size").getAsInt());
        if (j.get("symmetric").getAsBoolean()) grid = grid.symmetric();
        if (j.get("mse").getAsBoolean()) grid = grid.mse();
        Model m = Models.load(folder.toString());
        Map<String, QuantizedLinear> ls = new LinkedHashMap<>();
        try (Safetensors st = Safetensors.open(folder.resolve("quantization.safetensors"))) {
            for (var l : m.linears()) {
                String n = l.name();
                Tensor keep = st.names().contains(n + ".keep")
                        ? st.load(n + ".keep", m.device()).escape()
                        : null;
                int[] groups = new com.google.gson.Gson()
                        .fromJson(j.getAsJsonObject("group_of_column").get(n), int[].class);
                Tensor codes = st.load(n + ".codes", m.device()).escape();
                Tensor scales = st.names().contains(n + ".scales")
                        ? st.load(n + ".scales", m.device()).escape()
                        : null;
                Tensor zeros = st.names().contains(n + ".zeros")
                        ? st.load(n + ".zeros", m.device()).escape()
                        : null;
                QuantizedLinear.Codebooks books = null;
                if (st.names().contains(n + ".codebooks")) {
                    Tensor reserved = st.load(n + ".reserved", m.device()).escape();
                    int[] bits = new com.google.gson.Gson()
                            .fromJson(j.getAsJsonObject("column_bits").get(n), int[].class);
                    int[] keptPerColumn = keep == null ? new int[bits.length] : perColumn(keep);
                    books = new QuantizedLinear.Codebooks(
                            st.load(n + ".codebooks", m.device()).escape(),
                            bits,
                            reserved,
                            perColumn(reserved),
                            keptPerColumn);
                }
                ls.put(
                        n,
                        new QuantizedLinear(
                                n,
                                grid.bits(),
                                grid.groupSize(),
                                codes,
                                scales,
                                zeros,
                                groups,
                                keep,
                                keep == null ? 0 : keep.sum().itemLong(),
                                j.getAsJsonObject("loss").get(n).getAsDouble(),
                                books));
            }
        } catch (RuntimeException e) {
            m.close();
            for (QuantizedLinear q : ls.values()) q.close();
            throw e;
        }
        JsonObject options =
                j.has("options") ? j.getAsJsonObject("options") : new JsonObject(); // older files: defaults
        Method method = options(j.get("method").getAsString(), options);
        return new QuantizedModel(m, method, grid, ls, j.get("seconds").getAsDouble());
    }

    /** True entries per column of a bool mask [r, c]. */
    private static int[] perColumn(Tensor mask) {
        try (io.lowbit.torch.Scope s = io.lowbit.torch.Scope.open()) {
            return mask.sum(0).toIntArray();
        }
    }

    /** An options record as JSON, component by component (enums by name, paths as text). */
    static JsonObject optionsJson(Method method) {
        JsonObject o = new JsonObject();
        try {
            for (RecordComponent c : method.getClass().getRecordComponents()) {
                Object v = c.getAccessor().invoke(method);
                switch (v) {
                    case null -> o.add(c.getName(), JsonNull.INSTANCE);
                    case Boolean b -> o.addProperty(c.getName(), b);
                    case Number n -> o.addProperty(c.getName(), n);
                    case Enum<?> e -> o.addProperty(c.getName(), e.name());
                    case List<?> l -> {
                        JsonArray a = new JsonArray();
                        for (Object x : l) a.add((Number) x);
                        o.add(c.getName(), a);
                    }
                    default -> o.addProperty(c.getName(), v.toString());
                }
            }
        } catch (ReflectiveOperationException e) {
            throw new IllegalStateException(e);
        }
        return o;
    }

    /** The options named {@code name} from their JSON; absent components (older files) take the defaults. */
    static Method options(String name, JsonObject json) {
        Method defaults = switch (name) {
            case "RTN" -> Rtn.Options.defaults();
            case "GPTQ" -> Gptq.Options.defaults();
            case "AWQ" -> Awq.Options.defaults();
            case "TESSERAQ" -> Tesseraq.Options.defaults();
            case "CLAQ" -> Claq.Options.defaults();
            default -> throw new CheckpointException("unknown quantization method " + name);
        };
        try {
            RecordComponent[] cs = defaults.getClass().getRecordComponents();
            Object[] values = new Object[cs.length];
            Class<?>[] types = new Class<?>[cs.length];
            for (int i = 0; i < cs.length; i++) {
                types[i] = cs[i].getType();
                JsonElement e = json.get(cs[i].getName());
                values[i] = e == null ? cs[i].getAccessor().invoke(defaults) : value(types[i], e);
            }
            return (Method) defaults.getClass().getDeclaredConstructor(types).newInstance(values);
        } catch (ReflectiveOperationException | RuntimeException e) {
            Throwable cause = e instanceof java.lang.reflect.InvocationTargetException t ? t.getCause() : e;
            throw new CheckpointException(
                    name + " options " + json + " do not load (" + cause.getMessage() + ")", cause);
        }
    }

    @SuppressWarnings({"unchecked", "rawtypes"})
    private static Object value(Class<?> type, JsonElement e) {
        if (e.isJsonNull()) return null;
        if (type == int.class) return e.getAsInt();
        if (type == long.class) return e.getAsLong();
        if (type == double.class) return e.getAsDouble();
        if (type == boolean.class) return e.getAsBoolean();
        if (type == Path.class) return Path.of(e.getAsString());
        if (type.isEnum()) return Enum.valueOf((Class<? extends Enum>) type, e.getAsString());
        if (type == List.class) {
            List<Double> l = new java.util.ArrayList<>();
            for (JsonElement x : e.getAsJsonArray()) l.add(x.getAsDouble());
            return l;
        }
        throw new IllegalArgumentException("no JSON form for " + type);
    }

    @Override
    public void close() {
        model.close();
        for (QuantizedLinear q : linears.values()) q.close();
    }

    @Override
    public String toString() {
        return String.format(
                java.util.Locale.ROOT,
                "QuantizedModel[%s %s %s, %.3f bits (papers), %.3f bits (storage), %.1f s]",
                model.name(),
                method.label(),
                grid,
                paperBits(),
                storageBits(),
                seconds);
    }
}
