package io.lowbit.quant;

import io.lowbit.model.Interrupts;
import io.lowbit.model.Linear;
import io.lowbit.model.Model;
import io.lowbit.torch.DType;
import io.lowbit.torch.Scope;
import io.lowbit.torch.Tensor;
import io.lowbit.torch.Torch;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;

/**
 * AWQ on one decoder block (ptq-algorithms.md §B.3): the activation-aware channel-scale search,
 * folded into the preceding operation so the full-precision block computes the same function, then
 * the clip search that clamps weights in place. Both work on the llmc grid of {@link MinMaxGroups}.
 */
final class Awq {
  private Awq() {}

  static final int RATIOS = 20;        // ratio = 0, 0.05, …, 0.95
  static final int CLIP_STEPS = 10;    // n_grid 20 × max_shrink 0.5
  static final int CLIP_TOKENS = 512;  // n_sample_token

  /** Block i's linear inputs on hidden states xs: what q, o, gate and down see, per batch. */
  static Map<String, List<Tensor>> inputs(Model m, int i, List<Tensor> xs) {
    Model.Block b = m.blocks().get(i);
    Map<String, List<Tensor>> seen = new LinkedHashMap<>();
    Linear[] taps = {b.q(), b.o(), b.gate(), b.down()};
    try (var g = Torch.noGrad()) {
      for (Linear l : taps) {
        List<Tensor> list = new ArrayList<>();
        seen.put(l.name(), list);
        l.setInputHook(x -> list.add(x.share().escape()));
      }
      for (Tensor x : xs) m.runBlock(i, x).close();
    } finally {
      for (Linear l : taps) l.setInputHook(null);
    }
    return seen;
  }

  static void close(Map<String, List<Tensor>> inputs) {
    for (List<Tensor> l : inputs.values()) for (Tensor t : l) t.close();
  }

  /** Step 1–3 for the block's four subsets, each scale folded before the next is searched. */
  static void scale(Model m, int i, List<Tensor> xs, Grid grid) {
    Model.Block b = m.blocks().get(i);
    Map<String, List<Tensor>> in = inputs(m, i, xs);
    try (var g = Torch.noGrad()) {
      Tensor s = search(in.get(b.q().name()), List.of(b.q(), b.k(), b.v()), x -> m.attention(i, x), grid);
      foldIntoNorm(m, i, true, s);
      s.close();
      if (b.v().outFeatures() == b.o().inFeatures()) { // skipped under grouped-query attention (§B.3 step 4)
        s = search(in.get(b.o().name()), List.of(b.o()), b.o()::apply, grid);
        foldIntoRows(b.v(), s, List.of(b.o()));
        s.close();
      }
      s = search(in.get(b.gate().name()), List.of(b.gate(), b.up()), x -> m.mlp(i, x), grid);
      foldIntoNorm(m, i, false, s);
      s.close();
      s = search(in.get(b.down().name()), List.of(b.down()), b.down()::apply, grid);
      foldIntoRows(b.up(), s, List.of(b.down()));
      s.close();
    } finally {
      close(in);
    }
  }

  /**
   * The best s = a^ratio / √(max·min) over the ratios, a the mean |x| per input channel: each
   * candidate quantizes W·diag(s) and undoes s, and the inspected module's output is compared.
   */
  static Tensor search(List<Tensor> xs, List<Linear> ls, Function<Tensor, Tensor> inspect, Grid grid) {
    List<Tensor> original = new ArrayList<>(), reference = new ArrayList<>();
    try (Scope scope = Scope.open()) {
      long c = ls.get(0).inFeatures();
      Tensor sumAbs = Torch.zeros(DType.F32, xs.get(0).device(), c);
      long tokens = 0;
      for (Tensor x : xs) {
        Tensor flat = x.reshape(-1, c);
        sumAbs = sumAbs.add(flat.to(DType.F32).abs().sum(0));
        tokens += flat.size(0);
      }
      Tensor a = sumAbs.div((double) tokens);
      for (Tensor x : xs) reference.add(inspect.apply(x).escape());
      for (Linear l : ls) original.add(l.weight().share().escape());
      double best = Double.POSITIVE_INFINITY;
      Tensor bestS = null;
      for (int r = 0; r < RATIOS; r++) {
        Interrupts.check();
        try (Scope step = Scope.open()) {
          Tensor s = a.pow((double) r / RATIOS).clamp(1e-4, null);
          s = s.div(Math.sqrt(s.max().item() * s.min().item()));
          for (int j = 0; j < ls.size(); j++) {
            Tensor w = original.get(j);
            MinMaxGroups q = new MinMaxGroups(w.size(0), w.size(1), grid);
            ls.get(j).setWeight(q.fakeWeight(w.to(DType.F32).mul(s)).div(s).to(w.dtype()).escape());
          }
          double err = 0;
          long n = 0;
          for (int k = 0; k < xs.size(); k++) {
            Tensor d = inspect.apply(xs.get(k)).to(DType.F32).sub(reference.get(k).to(DType.F32));
            err += d.square().sum().item();
            n += d.numel();
          }
          err /= n;
          if (err < best) {
            best = err;
            bestS = step.keep(s);
          }
        }
      }
      if (bestS == null) throw new IllegalStateException("AWQ scale search: the output error is not finite for any ratio");
      return scope.keep(bestS).escape();
    } finally {
      for (int j = 0; j < original.size(); j++) ls.get(j).setWeight(original.get(j));
      for (Tensor t : reference) t.close();
    }
  }

  /** Norm weight ÷ s, the following linears' columns × s. */
  private static void foldIntoNorm(Model m, int i, boolean attention, Tensor s) {
    Model.Block b = m.blocks().get(i);
    Tensor norm = attention ? b.attnNorm() : b.mlpNorm();
    try (Scope scope = Scope.open()) {
      Tensor scaled = norm.to(DType.F32).div(s).to(norm.dtype()).escape();
      if (attention) m.setNorms(i, scaled, b.mlpNorm());
      else m.setNorms(i, b.attnNorm(), scaled);
    }
    scaleColumns(attention ? List.of(b.q(), b.k(), b.v()) : List.of(b.gate(), b.up()), s);
  }

  /** The previous linear's output rows (and bias) ÷ s, the following linears' columns × s. */
  private static void foldIntoRows(Linear prev, Tensor s, List<Linear> next) {
    try (Scope scope = Scope.open()) {
      Tensor w = prev.weight();
      prev.setWeight(w.to(DType.F32).div(s.unsqueeze(1)).to(w.dtype()).escape());
      if (prev.bias() != null) prev.setBias(prev.bias().to(DType.F32).div(s).to(prev.bias().dtype()).escape());
    }
    scaleColumns(next, s);
  }

  private static void scaleColumns(List<Linear> ls, Tensor s) {
    try (Scope scope = Scope.open()) {
      for (Linear l : ls) l.setWeight(l.weight().to(DType.F32).mul(s).to(l.weight().dtype()).escape());
    }
  }

  /**
   * The clip search (v1) for every linear but q and k: per group, shrink the range by 0, 5, …, 45 %
   * and keep the one whose quantized partial dot products with 512 sampled input tokens err least;
   * then clamp the weights in place to it.
   */
  static void clip(Model m, int i, List<Tensor> xs, Grid grid) {
    Model.Block b = m.blocks().get(i);
    Map<String, List<Tensor>> in = inputs(m, i, xs);
    try (var g = Torch.noGrad()) {
      clip(b.v(), in.get(b.q().name()), grid);
      clip(b.o(), in.get(b.o().name()), grid);
      clip(b.gate(), in.get(b.gate().name()), grid);
      clip(b.up(), in.get(b.gate().name()), grid);
      clip(b.down(), in.get(b.down().name()), grid);
    } finally {
      close(in);
    }
  }

  static void clip(Linear l, List<Tensor> xs, Grid grid) {
    Interrupts.check();
    try (Scope scope = Scope.open()) {
      long c = l.inFeatures(), r = l.outFeatures();
      MinMaxGroups q = new MinMaxGroups(r, c, grid);
      List<Tensor> flat = new ArrayList<>();
      for (Tensor x : xs) flat.add(x.reshape(-1, c));
      Tensor all = Torch.cat(flat, 0);
      long n = all.size(0), step = Math.max(1, n / CLIP_TOKENS);
      Tensor picked = all.indexSelect(0, Torch.arange(0, n, step, DType.I64, all.device()).narrow(0, 0, Math.min(CLIP_TOKENS, (n + step - 1) / step)));
      long ng = q.groupsPerRow, gs = q.groupSize, t = picked.size(0);
      Tensor x = q.paddedInput(picked.to(DType.F32)).reshape(t, ng, gs).permute(1, 0, 2); // [ng, t, g]
      Tensor w = q.grouped(l.weight()).reshape(r, ng, gs);
      List<Tensor> clamped = new ArrayList<>();
      long chunk = r % 256 == 0 ? 256 : 64;
      for (long start = 0; start < r; start += chunk) {
        try (Scope part = Scope.open()) {
          long rc = Math.min(chunk, r - start);
          Tensor wc = w.narrow(0, start, rc);                               // [rc, ng, g]
          Tensor exact = x.bmm(wc.permute(1, 2, 0));                         // [ng, t, rc] partial dot products
          Tensor max0 = wc.amax(new long[] {2}, true), min0 = wc.amin(new long[] {2}, true);
          Tensor bestErr = null, bestMax = null, bestMin = null;
          for (int k = 0; k < CLIP_STEPS; k++) {
            double f = 1 - k / 20.0;
            Tensor hi = max0.mul(f), lo = min0.mul(f);
            Tensor cw = wc.clamp(lo, hi);
            Tensor quant = q.fake(cw.reshape(rc * ng, gs)).reshape(rc, ng, gs);
            Tensor err = x.bmm(quant.permute(1, 2, 0)).sub(exact).square().mean(new long[] {1}, false).t().unsqueeze(2); // [rc, ng, 1]
            if (bestErr == null) {
              bestErr = err;
              bestMax = hi;
              bestMin = lo;
            } else {
              Tensor better = err.lt(bestErr);
              bestErr = Torch.where(better, err, bestErr);
              bestMax = Torch.where(better, hi, bestMax);
              bestMin = Torch.where(better, lo, bestMin);
            }
          }
          clamped.add(part.keep(wc.clamp(bestMin, bestMax)));
        }
      }
      Tensor result = q.ungrouped(Torch.cat(clamped, 0).reshape(r * ng, gs));
      l.setWeight(result.to(l.weight().dtype()).escape());
    }
  }
}
