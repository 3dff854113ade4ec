package io.lowbit.quant;

import io.lowbit.data.Calibration;
import io.lowbit.model.Interrupts;
import io.lowbit.model.Linear;
import io.lowbit.model.Model;
import io.lowbit.model.Progress;
import io.lowbit.torch.DType;
import io.lowbit.torch.Device;
import io.lowbit.torch.Scope;
import io.lowbit.torch.Tensor;
import io.lowbit.torch.Torch;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * Quantizes every q, k, v, o, gate, up, down weight of a model into a new model (the original is
 * untouched). GPTQ goes block by block on the quantized chain: inside a block the linears go in
 * true-sequential groups {k, v, q} → {o} → {up, gate} → {down}, each group's Hessian collected
 * from the partly quantized block; the block's outputs then feed the next block.
 */
public final class Quantize {
  private Quantize() {}

  /** Works on the model's own device. */
  public static QuantizedModel run(Model m, Grid grid, Method method, Calibration cal, Mask mask, Gptq.Options o, Progress progress) {
    return run(m, grid, method, cal, mask, o, progress, m.device());
  }

  /**
   * Works on {@code work}: each block is moved there, quantized, and moved back, so a model in host
   * memory larger than the GPU's memory can be quantized on the GPU one block at a time.
   */
  public static QuantizedModel run(Model m, Grid grid, Method method, Calibration cal, Mask mask, Gptq.Options o, Progress progress,
      Device work) {
    if (method == Method.TESSERAQ) {
      if (mask != null) throw new IllegalArgumentException("TesseraQ does not keep weights in 16 bits; use GPTQ or RTN with a mask");
      return Tesseraq.run(m, grid, cal, Tesseraq.Options.defaults(), progress, work);
    }
    if (method == Method.AWQ && mask != null) throw new IllegalArgumentException("AWQ does not keep weights in 16 bits; use GPTQ or RTN with a mask");
    long t0 = System.nanoTime();
    Model q = m.copy();
    Map<String, QuantizedLinear> done = new LinkedHashMap<>();
    Map<String, Double> phases = new LinkedHashMap<>();
    try {
      if (method == Method.RTN) rtn(q, grid, mask, done, progress, work);
      else if (method == Method.AWQ) awq(q, grid, cal, done, progress, work);
      else gptq(q, grid, cal, mask, o, done, progress, work, phases);
      return new QuantizedModel(q, method, grid, done, (System.nanoTime() - t0) / 1e9, List.of(), phases);
    } catch (RuntimeException | Error e) { // an interrupt or a failure leaves nothing behind
      q.close();
      for (QuantizedLinear l : done.values()) l.close();
      throw e;
    }
  }

  private static void rtn(Model q, Grid grid, Mask mask, Map<String, QuantizedLinear> done, Progress progress, Device work) {
    List<Linear> all = q.linears();
    int perBlock = all.size() / q.blocks().size();
    for (int i = 0; i < all.size(); i++) {
      Interrupts.check();
      if (i % perBlock == 0) {
        if (i > 0) q.moveBlock(i / perBlock - 1, q.device());
        q.moveBlock(i / perBlock, work);
      }
      Linear l = all.get(i);
      try (Scope s = Scope.open(); var g = Torch.noGrad()) {
        Tensor keep = maskOn(mask, l.name(), work);
        Tensor w = l.weight().to(DType.F32);
        long c = w.size(1);
        int gs = grid.groupSize() > 0 ? grid.groupSize() : (int) c;
        List<Tensor> codes = new ArrayList<>(), deq = new ArrayList<>(), scales = new ArrayList<>(), zeros = new ArrayList<>();
        int[] groupOf = new int[(int) c];
        for (long start = 0, k = 0; start < c; start += gs, k++) {
          long len = Math.min(gs, c - start);
          Tensor part = w.narrow(1, start, len);
          Tensor kp = keep == null ? null : keep.narrow(1, start, len);
          Quantizer.Params p = Quantizer.fit(part, kp, grid);
          Tensor code = Quantizer.codes(kp == null ? part : part.maskedFill(kp, 0), p, grid);
          Tensor value = Quantizer.dequantize(code, p);
          deq.add(kp == null ? value : Torch.where(kp, part, value));
          codes.add(code);
          scales.add(p.scale());
          zeros.add(p.zero());
          for (long j = start; j < start + len; j++) groupOf[(int) j] = (int) k;
        }
        Tensor dense = Torch.cat(deq, 1);
        double loss = dense.sub(w).square().sum().item();
        l.setWeight(dense.to(l.weight().dtype()).escape());
        done.put(l.name(), layer(l.name(), grid, Torch.cat(codes, 1), Torch.cat(scales, 1), Torch.cat(zeros, 1), groupOf, keep, loss,
            q.device()));
      }
      progress.update("RTN linears", i + 1, all.size());
    }
    q.moveBlock(q.blocks().size() - 1, q.device());
  }

  /**
   * AWQ block by block: scales and clip searched on the block's inputs and folded in, the next
   * block's inputs taken from the transformed full-precision block (as AWQ does), then every linear
   * rounded to nearest on llmc's grid.
   */
  private static void awq(Model q, Grid grid, Calibration cal, Map<String, QuantizedLinear> done, Progress progress, Device work) {
    if (cal == null) throw new IllegalArgumentException("AWQ needs a calibration set");
    new MinMaxGroups(1, 1, grid); // refuses grids llmc's quantizer does not have, before any work
    int blocks = q.blocks().size();
    List<Tensor> inputs = embedded(q, cal, work);
    try (var g = Torch.noGrad()) {
      for (int i = 0; i < blocks; i++) {
        q.moveBlock(i, work);
        Awq.scale(q, i, inputs, grid);
        Awq.clip(q, i, inputs, grid);
        List<Tensor> next = new ArrayList<>();
        for (Tensor x : inputs) {
          next.add(q.runBlock(i, x).escape());
          x.close();
        }
        inputs = next;
        for (Linear l : q.blocks().get(i).linears()) {
          try (Scope s = Scope.open()) {
            MinMaxGroups mg = new MinMaxGroups(l.outFeatures(), l.inFeatures(), grid);
            Tensor wg = mg.grouped(l.weight());
            Quantizer.Params p = mg.fit(wg);
            Tensor codes = mg.ungrouped(mg.codes(wg, p));
            Tensor scales = p.scale().reshape(mg.rows, mg.groupsPerRow).contiguous(), zeros = p.zero().reshape(mg.rows, mg.groupsPerRow).contiguous();
            p.close();
            Tensor w = Tesseraq.dense(mg, codes, scales, zeros, l.weight().dtype());
            double loss = mg.grouped(w).sub(wg).square().sum().item();
            l.setWeight(w.escape());
            done.put(l.name(), layer(l.name(), grid, codes.escape(), scales.escape(), zeros.escape(), mg.groupOfColumn(), null, loss, q.device()));
          }
        }
        q.moveBlock(i, q.device());
        progress.update("AWQ blocks", i + 1, blocks);
      }
    } finally {
      for (Tensor x : inputs) x.close();
    }
  }

  /** Block 0's inputs: the calibration sequences embedded, in batches of equal length, on {@code work}. */
  static List<Tensor> embedded(Model q, Calibration cal, Device work) {
    List<Tensor> inputs = new ArrayList<>();
    try (var g = Torch.noGrad()) {
      for (int[][] batch : batches(cal, q, work)) {
        long[] flat = new long[batch.length * batch[0].length];
        for (int b = 0; b < batch.length; b++)
          for (int t = 0; t < batch[0].length; t++) flat[b * batch[0].length + t] = batch[b][t];
        try (Scope s = Scope.open()) {
          inputs.add(q.embed(Torch.tensor(flat, batch.length, batch[0].length).to(q.device())).to(work).escape());
        }
      }
    }
    return inputs;
  }

  private static Tensor maskOn(Mask mask, String name, Device work) {
    Tensor k = mask == null ? null : mask.of(name);
    return k == null || k.device().equals(work) ? k : k.to(work);
  }

  private static void gptq(Model q, Grid grid, Calibration cal, Mask mask, Gptq.Options o, Map<String, QuantizedLinear> done,
      Progress progress, Device work, Map<String, Double> phases) {
    PhaseClock clock = new PhaseClock(work, phases);
    if (cal == null) throw new IllegalArgumentException("GPTQ needs a calibration set");
    int blocks = q.blocks().size();
    List<Tensor> inputs = embedded(q, cal, work); // block inputs, equal-length sequences batched together
    try (var g = Torch.noGrad()) {
      for (int i = 0; i < blocks; i++) {
        q.moveBlock(i, work);
        for (List<String> group : TRUE_SEQUENTIAL) {
          Interrupts.check();
          List<Linear> ls = new ArrayList<>();
          for (String n : group) ls.add(q.linear("layers." + i + "." + n));
          // every linear of a group sees the same input: one Hessian serves them all
          try (Hessian h = new Hessian(ls.get(0).inFeatures(), work)) {
            // the pass only has to reach the group's input: stop the block there
            ls.get(0).setInputHook(x -> {
              h.add(x);
              throw ENOUGH;
            });
            clock.start();
            try {
              for (Tensor x : inputs) {
                try {
                  q.runBlock(i, x).close();
                } catch (Enough e) {
                  // the Hessian has this batch
                }
              }
            } finally {
              ls.get(0).setInputHook(null);
            }
            clock.stop("hessian");
            for (Linear l : ls) {
              Tensor keep = maskOn(mask, l.name(), work);
              Gptq.Result r = Gptq.quantize(l.weight(), h.matrix(), grid, keep, o);
              l.setWeight(r.weight().to(l.weight().dtype()).escape());
              r.weight().close();
              done.put(l.name(), layer(l.name(), grid, r.codes(), r.scales(), r.zeros(), r.groupOfColumn(), keep, r.loss(), q.device()));
            }
            clock.stop("sweep");
          }
        }
        List<Tensor> next = new ArrayList<>();
        for (Tensor x : inputs) {
          next.add(q.runBlock(i, x).escape());
          x.close();
        }
        inputs = next;
        clock.stop("propagate");
        q.moveBlock(i, q.device());
        progress.update("GPTQ blocks", i + 1, blocks);
      }
    } finally {
      for (Tensor x : inputs) x.close();
    }
  }

  /** The reference's --true-sequential order inside a block: each group sees the earlier ones quantized. */
  static final List<List<String>> TRUE_SEQUENTIAL =
      List.of(List.of("attn.k", "attn.v", "attn.q"), List.of("attn.o"), List.of("mlp.up", "mlp.gate"), List.of("mlp.down"));

  /** Thrown by a Hessian hook once it has its input: the rest of the block's pass is not needed. */
  private static final class Enough extends RuntimeException {
    Enough() {
      super("input collected", null, false, false);
    }
  }

  private static final Enough ENOUGH = new Enough();

  /** Sequences of equal length go together, 16 a batch on a GPU (the same Hessians as one at a time). */
  static List<int[][]> batches(Calibration cal, Model m, Device work) {
    Map<Integer, List<int[]>> byLength = new TreeMap<>();
    for (int[] s : cal.sequences()) byLength.computeIfAbsent(s.length, k -> new ArrayList<>()).add(s);
    List<int[][]> out = new ArrayList<>();
    for (var e : byLength.entrySet()) {
      List<int[]> same = e.getValue();
      int n = m.batchFor(e.getKey(), work, 16);
      for (int i = 0; i < same.size(); i += n) out.add(same.subList(i, Math.min(i + n, same.size())).toArray(new int[0][]));
    }
    return out;
  }

  /** The layer's record, its tensors beside the model (host memory when the work is on a GPU). */
  static QuantizedLinear layer(String name, Grid grid, Tensor codes, Tensor scales, Tensor zeros, int[] groupOf, Tensor keep,
      double loss, Device home) {
    // handles share storage, so closing the inputs below frees nothing these still use
    Tensor k = keep == null ? null : keep.to(home).escape();
    Tensor bytes = codes.to(home, DType.U8).escape();
    Tensor sc = scales.to(home).escape(), zr = zeros.to(home).escape();
    codes.close();
    scales.close();
    zeros.close();
    return new QuantizedLinear(name, grid.bits(), grid.groupSize(), bytes, sc, zr, groupOf, k, k == null ? 0 : k.sum().itemLong(), loss);
  }
}
