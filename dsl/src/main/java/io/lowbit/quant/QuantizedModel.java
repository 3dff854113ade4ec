package io.lowbit.quant;

import com.google.gson.GsonBuilder;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import io.lowbit.model.CheckpointException;
import io.lowbit.model.Model;
import io.lowbit.model.Models;
import io.lowbit.model.Safetensors;
import io.lowbit.torch.Tensor;
import java.io.IOException;
import java.io.UncheckedIOException;
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

  QuantizedModel(Model model, Method method, Grid grid, Map<String, QuantizedLinear> linears, double seconds,
      List<Tesseraq.BlockLoss> reconstruction, Map<String, Double> phases) {
    this.model = model;
    this.method = method;
    this.grid = grid;
    this.linears = Map.copyOf(linears);
    this.seconds = seconds;
    this.reconstruction = List.copyOf(reconstruction);
    this.phases = java.util.Collections.unmodifiableMap(new java.util.LinkedHashMap<>(phases));
  }

  /** Seconds per phase of the run (GPTQ: "hessian", "sweep", "propagate"), empty where not measured. */
  public Map<String, Double> phases() { return phases; }

  /** Per block, TesseraQ's reconstruction losses (empty for the other methods). */
  public List<Tesseraq.BlockLoss> reconstruction() { return reconstruction; }

  /** The dense model with dequantized weights: evaluate, generate or save it like any model. */
  public Model model() { return model; }
  public Method method() { return method; }
  public Grid grid() { return grid; }
  public double seconds() { return seconds; }
  public QuantizedLinear linear(String name) { return linears.get(name); }

  public long weights() {
    return linears.values().stream().mapToLong(QuantizedLinear::numel).sum();
  }

  public long kept() {
    return linears.values().stream().mapToLong(QuantizedLinear::kept).sum();
  }

  /** The papers' convention: N·(1 − r) + 32·r, r the kept fraction (scales and zeros not counted). */
  public double paperBits() {
    double r = (double) kept() / weights();
    return grid.bits() * (1 - r) + 32 * r;
  }

  /** What storage really takes per weight: codes, every scale and zero, and kept weights at 32 bits. */
  public double storageBits() {
    return linears.values().stream().mapToDouble(QuantizedLinear::storageBits).sum() / weights();
  }

  /**
   * Saves as a folder: the dense model (config.json, safetensors, tokenizer) loadable by any
   * Hugging Face tool, plus quantization.safetensors (codes, scales, zeros, kept masks) and
   * quantization.json (method, grid, bit accounting).
   */
  public void save(Path folder) {
    Models.save(model, folder);
    LinkedHashMap<String, Tensor> t = new LinkedHashMap<>();
    for (Model.Block b : model.blocks())
      for (var l : b.linears()) {
        QuantizedLinear q = linears.get(l.name());
        t.put(l.name() + ".codes", q.codes());
        t.put(l.name() + ".scales", q.scales());
        t.put(l.name() + ".zeros", q.zeros());
        if (q.keep() != null) t.put(l.name() + ".keep", q.keep());
      }
    JsonObject j = new JsonObject();
    j.addProperty("format", "lowbit-quantized/1");
    j.addProperty("method", method.name());
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
    JsonObject groups = new JsonObject();
    for (var e : linears.entrySet()) {
      losses.addProperty(e.getKey(), e.getValue().loss());
      groups.add(e.getKey(), new com.google.gson.Gson().toJsonTree(e.getValue().groupOfColumn()));
    }
    j.add("loss", losses);
    j.add("group_of_column", groups);
    try {
      Safetensors.write(folder.resolve("quantization.safetensors"), t, Map.of("format", "lowbit"));
      Files.writeString(folder.resolve("quantization.json"), new GsonBuilder().setPrettyPrinting().create().toJson(j));
    } catch (IOException e) {
      throw new UncheckedIOException(folder + ": cannot save (" + e.getMessage() + ")", e);
    }
  }

  /** Loads what {@link #save} wrote, onto the default device. */
  public static QuantizedModel load(Path folder) {
    Path manifest = folder.resolve("quantization.json");
    if (!Files.isRegularFile(manifest))
      throw new CheckpointException(manifest + ": missing (not a folder saved from a QuantizedModel)");
    JsonObject j;
    try {
      j = JsonParser.parseString(Files.readString(manifest)).getAsJsonObject();
    } catch (IOException | RuntimeException e) {
      throw new CheckpointException(manifest + ": unreadable (" + e.getMessage() + ")", e);
    }
    Grid grid = Grid.bits(j.get("bits").getAsInt()).groups(j.get("group_size").getAsInt());
    if (j.get("symmetric").getAsBoolean()) grid = grid.symmetric();
    if (j.get("mse").getAsBoolean()) grid = grid.mse();
    Model m = Models.load(folder.toString());
    Map<String, QuantizedLinear> ls = new LinkedHashMap<>();
    try (Safetensors st = Safetensors.open(folder.resolve("quantization.safetensors"))) {
      for (var l : m.linears()) {
        String n = l.name();
        Tensor keep = st.names().contains(n + ".keep") ? st.load(n + ".keep", m.device()).escape() : null;
        int[] groups = new com.google.gson.Gson().fromJson(j.getAsJsonObject("group_of_column").get(n), int[].class);
        ls.put(n, new QuantizedLinear(n, grid.bits(), grid.groupSize(), st.load(n + ".codes", m.device()).escape(),
            st.load(n + ".scales", m.device()).escape(), st.load(n + ".zeros", m.device()).escape(), groups, keep,
            keep == null ? 0 : keep.sum().itemLong(), j.getAsJsonObject("loss").get(n).getAsDouble()));
      }
    } catch (RuntimeException e) {
      m.close();
      for (QuantizedLinear q : ls.values()) q.close();
      throw e;
    }
    return new QuantizedModel(m, Method.valueOf(j.get("method").getAsString()), grid, ls, j.get("seconds").getAsDouble());
  }

  @Override
  public void close() {
    model.close();
    for (QuantizedLinear q : linears.values()) q.close();
  }

  @Override
  public String toString() {
    return String.format(java.util.Locale.ROOT, "QuantizedModel[%s %s %s, %.3f bits (papers), %.3f bits (storage), %.1f s]",
        model.name(), method, grid, paperBits(), storageBits(), seconds);
  }
}
