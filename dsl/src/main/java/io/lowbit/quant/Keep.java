package io.lowbit.quant;

import io.lowbit.model.Interrupts;
import io.lowbit.torch.DType;
import io.lowbit.torch.Scope;
import io.lowbit.torch.Tensor;
import io.lowbit.torch.Torch;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.UnaryOperator;

/**
 * Which weights stay in 16 bits: the top fraction of scores (tacq.md §2.1). Global by default:
 * one top-k over every scored weight of the model, k = ⌊p·P⌋, P = the number of scored weights;
 * per matrix and per row as options. Ties are broken by position (linear order, then row-major
 * index), so the same scores always give the same mask.
 */
public final class Keep {
  private Keep() {}

  /** k = ⌊fraction·P⌋ weights over all linears; {@code scores} in linear order (not closed here). */
  public static Mask global(Map<String, Tensor> scores, double fraction) {
    check(fraction);
    long total = 0;
    for (Tensor t : scores.values()) total += t.numel();
    long k = (long) Math.floor(fraction * total);
    List<String> names = new ArrayList<>(scores.keySet());
    Map<String, Tensor> kept = new LinkedHashMap<>();
    try (Scope s = Scope.open()) {
      List<Tensor> flat = new ArrayList<>();
      for (String n : names) flat.add(scores.get(n).to(DType.F32).reshape(-1));
      Tensor all = Torch.cat(flat, 0);
      Tensor mask = topK(all, k);
      long at = 0;
      for (String n : names) {
        Tensor t = scores.get(n);
        kept.put(n, s.keep(mask.narrow(0, at, t.numel()).reshape(t.shape()).contiguous()).escape());
        at += t.numel();
      }
    }
    return new Mask(kept);
  }

  /** ⌊fraction·n⌋ weights in each matrix of n weights. */
  public static Mask perMatrix(Map<String, Tensor> scores, double fraction) {
    return eachMatrix(scores, fraction,
        t -> topK(t.reshape(-1), (long) Math.floor(fraction * t.numel())).reshape(t.shape()));
  }

  /** ⌊fraction·in⌋ weights in each row. */
  public static Mask perRow(Map<String, Tensor> scores, double fraction) {
    return eachMatrix(scores, fraction, t -> {
      long k = (long) Math.floor(fraction * t.size(1));
      List<Tensor> rows = new ArrayList<>();
      for (long r = 0; r < t.size(0); r++) rows.add(topK(t.select(0, r), k));
      return Torch.stack(rows, 0);
    });
  }

  /** A mask per matrix from its float32 scores, one matrix at a time. */
  private static Mask eachMatrix(Map<String, Tensor> scores, double fraction, UnaryOperator<Tensor> pick) {
    check(fraction);
    Map<String, Tensor> kept = new LinkedHashMap<>();
    for (var e : scores.entrySet()) {
      Interrupts.check();
      try (Scope s = Scope.open()) {
        kept.put(e.getKey(), s.keep(pick.apply(e.getValue().to(DType.F32)).contiguous()).escape());
      }
    }
    return new Mask(kept);
  }

  /**
   * A boolean mask of the k largest values of v [n]: every value above the k-th largest, then the
   * first (by index) of those equal to it until there are k. O(n) memory, no sort.
   */
  static Tensor topK(Tensor v, long k) {
    try (Scope s = Scope.open()) {
      if (k <= 0) return s.keep(v.gt(Double.POSITIVE_INFINITY));
      if (k >= v.numel()) return s.keep(v.eq(v).logicalOr(v.isnan()));
      Tensor kth = Torch.call("aten::kthvalue", "", v.neg(), k, 0L, false)[0].neg(); // the k-th largest
      double t = kth.item();
      Tensor above = v.gt(t);
      long need = k - above.sum().itemLong();
      Tensor equal = v.eq(t);
      Tensor firstEqual = equal.logicalAnd(equal.to(DType.I64).cumsum(0).lt(need + 0.5));
      return s.keep(above.logicalOr(firstEqual));
    }
  }

  private static void check(double fraction) {
    if (!(fraction >= 0 && fraction <= 1))
      throw new IllegalArgumentException("the fraction kept must be in [0, 1] (0.0035 is 0.35 %), not " + fraction);
  }
}
