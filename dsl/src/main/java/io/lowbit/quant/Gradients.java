package io.lowbit.quant;

import io.lowbit.data.Calibration;
import io.lowbit.model.Interrupts;
import io.lowbit.model.Linear;
import io.lowbit.model.Model;
import io.lowbit.model.Progress;
import io.lowbit.torch.DType;
import io.lowbit.torch.Scope;
import io.lowbit.torch.Tensor;
import io.lowbit.torch.Torch;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Per-weight gradient statistics over a calibration set, for saliency (tacq.md §1.2): one forward
 * and backward per sequence on the unquantized model, loss = mean next-token cross-entropy over all
 * positions, and per linear weight
 *
 * <pre>  G = Σ_s |∂L_s/∂W|    (abs per sequence, never a signed sum)</pre>
 *
 * plus, when asked, Σ_s (∂L_s/∂W)² (Fisher) and Σ_s ∂L_s/∂W (signed) for the ablation baselines.
 * All accumulators are float32 on the model's device. The object owns its tensors.
 */
public final class Gradients implements AutoCloseable {
  private final Map<String, Tensor> abs;
  private final Map<String, Tensor> square;
  private final Map<String, Tensor> signed;
  private final int sequences;
  private final double seconds;

  private Gradients(Map<String, Tensor> abs, Map<String, Tensor> square, Map<String, Tensor> signed, int sequences,
                    double seconds) {
    this.abs = abs;
    this.square = square;
    this.signed = signed;
    this.sequences = sequences;
    this.seconds = seconds;
  }

  /**
   * Accumulates over {@code cal}'s sequences, batch 1, each at its own length (no padding). The
   * gradient is taken in {@code dtype} (float32 by default; a bf16 model is copied to float32
   * first). {@code baselines} also accumulates Σg² and Σg.
   */
  public static Gradients compute(Model m, Calibration cal, DType dtype, boolean baselines, Progress progress) {
    long t0 = System.nanoTime();
    Map<String, Tensor> abs = new LinkedHashMap<>(), square = new LinkedHashMap<>(), signed = new LinkedHashMap<>();
    Model g = m.dtype() == dtype ? m : m.to(dtype);
    try {
      for (Linear l : g.linears()) {
        abs.put(l.name(), Torch.zeros(DType.F32, g.device(), l.outFeatures(), l.inFeatures()).escape());
        if (baselines) {
          square.put(l.name(), Torch.zeros(DType.F32, g.device(), l.outFeatures(), l.inFeatures()).escape());
          signed.put(l.name(), Torch.zeros(DType.F32, g.device(), l.outFeatures(), l.inFeatures()).escape());
        }
      }
      int n = cal.sequences().size();
      for (int s = 0; s < n; s++) {
        Interrupts.check();
        try (Scope sc = Scope.open()) {
          Map<String, Tensor> grads = g.linearGradients(g.tokens(cal.sequences().get(s)), null);
          for (var e : grads.entrySet()) {
            Tensor gr = e.getValue().to(DType.F32);
            abs.get(e.getKey()).absAccumulateInPlace(gr);
            if (baselines) {
              square.get(e.getKey()).addInPlace(gr.square());
              signed.get(e.getKey()).addInPlace(gr);
            }
          }
        }
        progress.update("gradients", s + 1, n);
      }
      return new Gradients(abs, square, signed, n, (System.nanoTime() - t0) / 1e9);
    } catch (RuntimeException | Error e) {
      abs.values().forEach(Tensor::close);
      square.values().forEach(Tensor::close);
      signed.values().forEach(Tensor::close);
      throw e;
    } finally {
      if (g != m) g.close();
    }
  }

  /** Σ_s |∂L_s/∂W| of one linear (owned here). */
  public Tensor abs(String linear) {
    return need(abs, linear, "Σ|g|");
  }

  /** Σ_s (∂L_s/∂W)², when computed with baselines. */
  public Tensor square(String linear) {
    return need(square, linear, "Σg² (compute with baselines)");
  }

  /** Σ_s ∂L_s/∂W, when computed with baselines. */
  public Tensor signed(String linear) {
    return need(signed, linear, "Σg (compute with baselines)");
  }

  public boolean hasBaselines() {
    return !square.isEmpty();
  }

  public int sequences() { return sequences; }
  public double seconds() { return seconds; }

  private static Tensor need(Map<String, Tensor> m, String linear, String what) {
    Tensor t = m.get(linear);
    if (t == null) throw new IllegalArgumentException("no " + what + " for " + linear);
    return t;
  }

  @Override
  public void close() {
    abs.values().forEach(Tensor::close);
    square.values().forEach(Tensor::close);
    signed.values().forEach(Tensor::close);
  }

  @Override
  public String toString() {
    return String.format(java.util.Locale.ROOT, "Gradients[%d linears, %d sequences, %.1f s%s]", abs.size(), sequences,
        seconds, hasBaselines() ? ", with Σg² and Σg" : "");
  }
}
