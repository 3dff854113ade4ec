package io.lowbit.quant;

import io.lowbit.model.Interrupts;
import io.lowbit.torch.DType;
import io.lowbit.torch.Scope;
import io.lowbit.torch.Tensor;
import io.lowbit.torch.Torch;
import java.util.ArrayList;
import java.util.List;

/**
 * GPTQ for one linear layer (Frantar et al. 2023), as the IST-DASLab reference does it, with
 * TaCQ's mask of weights kept in 16 bits (tacq.md §2.3). Everything in float32.
 */
public final class Gptq {
  private Gptq() {}

  /**
   * Block size 128, 1 % damping retried up to 150 times, natural column order; the in-block sweep
   * as one fused call per block ({@code fusedSweep}; off: the per-column tensor ops below, which
   * mirror the paper line by line and serve as the kernel's reference).
   */
  public record Options(int blockSize, double percDamp, boolean actOrder, boolean staticGroups, int maxDampRetries, boolean fusedSweep) {
    public static Options defaults() {
      return new Options(128, 0.01, false, false, 150, true);
    }

    public Options withActOrder(boolean on) {
      return new Options(blockSize, percDamp, on, staticGroups, maxDampRetries, fusedSweep);
    }

    public Options withStaticGroups(boolean on) {
      return new Options(blockSize, percDamp, actOrder, on, maxDampRetries, fusedSweep);
    }

    public Options withBlockSize(int b) {
      return new Options(b, percDamp, actOrder, staticGroups, maxDampRetries, fusedSweep);
    }

    public Options withFusedSweep(boolean on) {
      return new Options(blockSize, percDamp, actOrder, staticGroups, maxDampRetries, on);
    }
  }

  /** The layer's result: dequantized weights (kept weights in place), codes and grid, and the error. */
  public record Result(Tensor weight, Tensor codes, Tensor scales, Tensor zeros, int[] groupOfColumn, double loss, double damping) {}

  /**
   * Quantizes W [r, c] given its Hessian H [c, c]; {@code keep} [r, c] (boolean, may be null) marks
   * weights left in 16 bits. Returns float32 tensors the caller owns.
   */
  public static Result quantize(Tensor weight, Tensor hessian, Grid grid, Tensor keep, Options o) {
    try (Scope s = Scope.open()) {
      long r = weight.size(0), c = weight.size(1);
      int g = grid.groupSize() > 0 ? grid.groupSize() : (int) c;
      Tensor w = weight.to(DType.F32).clone();
      Tensor h = hessian.to(DType.F32).clone();
      Tensor kp = keep;
      // A.3.1: per-row parameters from the whole original row
      Quantizer.Params rowParams = grid.groupSize() > 0 ? null : Quantizer.fit(w, kp, grid);
      // A.3.2: dead inputs
      Tensor dead = h.diagonal().eq(0.0);
      Tensor eye = Torch.call1("aten::eye", "", c, DType.F32, null, w.device());
      h = Torch.where(eye.gt(0.0).logicalAnd(dead.unsqueeze(0)), eye, h);
      w = w.maskedFill(dead.unsqueeze(0), 0);
      // A.3.3: static groups, fitted on the original order
      List<Quantizer.Params> staticGroups = new ArrayList<>();
      if (o.staticGroups() && grid.groupSize() > 0)
        for (long t = 0; t < c; t += g) staticGroups.add(Quantizer.fit(w.narrow(1, t, Math.min(g, c - t)), slice(kp, t, Math.min(g, c - t)), grid));
      // A.3.4: act-order
      Tensor perm = null, invperm = null;
      if (o.actOrder()) {
        perm = h.diagonal().sort(0, true).indices();
        invperm = perm.sort(0, false).indices();
        w = w.indexSelect(1, perm);
        h = h.indexSelect(0, perm).indexSelect(1, perm);
        if (kp != null) kp = kp.indexSelect(1, perm);
      }
      long[] permuted = perm == null ? null : perm.toLongArray();
      // A.3.5–6: damping (retried while Cholesky fails), then U = chol(H⁻¹, upper)
      double lambda = o.percDamp() * h.diagonal().mean().item();
      Tensor u = null;
      double damping = 0;
      for (int attempt = 0; attempt <= o.maxDampRetries() && u == null; attempt++) {
        damping += lambda;
        Tensor damped = h.add(eye.mul(damping));
        Torch.Cholesky l = Torch.choleskyEx(damped, false);
        if (!l.ok()) continue;
        Torch.Cholesky upper = Torch.choleskyEx(Torch.choleskyInverse(l.factor(), false), true);
        if (upper.ok()) u = upper.factor();
      }
      if (u == null)
        throw new IllegalStateException("GPTQ: the Hessian stayed indefinite after " + o.maxDampRetries()
            + " rounds of damping (λ = " + lambda + " each); the calibration set may be too small for this layer");

      // A.5: the column sweep in blocks of B with lazy updates
      Tensor q = Torch.zeros(DType.F32, w.device(), r, c), codes = Torch.zeros(DType.F32, w.device(), r, c);
      Tensor losses = Torch.zeros(DType.F32, w.device(), r);
      List<Tensor> scales = new ArrayList<>(), zeros = new ArrayList<>();
      int[] groupOfColumn = new int[(int) c];
      Quantizer.Params params = rowParams;
      if (rowParams != null) { scales.add(rowParams.scale()); zeros.add(rowParams.zero()); }
      for (long i1 = 0; i1 < c; i1 += o.blockSize()) {
        Interrupts.check();
        long nb = Math.min(o.blockSize(), c - i1);
        try (Scope block = Scope.open()) {
          Tensor u1 = u.narrow(0, i1, nb).narrow(1, i1, nb);
          // each column's grid; a group is fitted on the global W as it stands before this block,
          // as the reference does (note A.5(a)), so all of the block's grids are known up front
          List<Quantizer.Params> grids = new ArrayList<>();
          for (long i = 0; i < nb; i++) {
            long j = i1 + i;
            if (grid.groupSize() > 0) {
              if (o.staticGroups()) {
                params = staticGroups.get((int) ((permuted == null ? j : permuted[(int) j]) / g));
              } else if (j % g == 0) {
                params = Quantizer.fit(w.narrow(1, j, Math.min(g, c - j)), slice(kp, j, Math.min(g, c - j)), grid);
                scales.add(params.scale().escape());
                zeros.add(params.zero().escape());
              }
            }
            groupOfColumn[(int) j] = o.staticGroups() ? (int) ((permuted == null ? j : permuted[(int) j]) / g)
                : grid.groupSize() > 0 ? (int) (j / g) : 0;
            grids.add(params);
          }
          Tensor e1 = o.fusedSweep() ? fusedSweep(w.narrow(1, i1, nb), u1, grids, slice(kp, i1, nb), grid, q.narrow(1, i1, nb),
              codes.narrow(1, i1, nb), losses) : sweep(w.narrow(1, i1, nb).clone(), u1, grids, slice(kp, i1, nb), grid,
              q.narrow(1, i1, nb), codes.narrow(1, i1, nb), losses);
          if (i1 + nb < c) // the lazy update of every later column: one product per block
            w.narrow(1, i1 + nb, c - i1 - nb).addInPlace(e1.mm(u.narrow(0, i1, nb).narrow(1, i1 + nb, c - i1 - nb)), -1);
        }
      }
      if (invperm != null) {
        q = q.indexSelect(1, invperm);
        codes = codes.indexSelect(1, invperm);
        int[] natural = new int[(int) c];
        for (int j = 0; j < c; j++) natural[(int) permuted[j]] = groupOfColumn[j];
        groupOfColumn = natural;
      }
      if (o.staticGroups() && grid.groupSize() > 0) for (Quantizer.Params p : staticGroups) { scales.add(p.scale()); zeros.add(p.zero()); }
      Tensor sc = Torch.cat(scales, 1), zr = Torch.cat(zeros, 1);
      for (Tensor t : scales) t.close();
      for (Tensor t : zeros) t.close();
      double loss = losses.sum().item();
      return new Result(s.keep(q).escape(), s.keep(codes).escape(), s.keep(sc).escape(), s.keep(zr).escape(), groupOfColumn, loss, damping);
    }
  }

  /**
   * Algorithm 1's inner loop over the block's columns, one column at a time: quantize column i,
   * E[:, i] = (w − q)/U[i, i], W[:, i:] −= E[:, i]·U[i, i:]. Writes q and codes, adds the loss,
   * returns E [r, nb].
   */
  static Tensor sweep(Tensor w1, Tensor u1, List<Quantizer.Params> grids, Tensor keep, Grid grid, Tensor q, Tensor codes, Tensor losses) {
    try (Scope s = Scope.open()) {
      long r = w1.size(0), nb = w1.size(1);
      Tensor e1 = Torch.zeros(DType.F32, w1.device(), r, nb);
      double[] diag = u1.diagonal().toDoubleArray(); // one read per block, not a device sync per column
      for (int i = 0; i < nb; i++) {
        Quantizer.Params params = grids.get(i);
        Tensor x = w1.select(1, i).unsqueeze(1);                               // [r, 1]
        Tensor kj = keep == null ? null : keep.select(1, i).unsqueeze(1);
        Tensor code = Quantizer.codes(kj == null ? x : x.maskedFill(kj, 0), params, grid);
        Tensor qj = Quantizer.dequantize(code, params);
        if (kj != null) qj = Torch.where(kj, x, qj);                          // kept weights keep their current value
        q.narrow(1, i, 1).copyFrom(qj);
        codes.narrow(1, i, 1).copyFrom(code);
        Tensor err = x.sub(qj).div(diag[i]);                                   // [r, 1]; 0 on kept weights
        losses.addInPlace(err.square().reshape(r).div(2));
        w1.narrow(1, i, nb - i).addInPlace(err.mul(u1.select(0, i).narrow(0, i, nb - i).unsqueeze(0)), -1);
        e1.narrow(1, i, 1).copyFrom(err);
      }
      return s.keep(e1);
    }
  }

  /** The same sweep as one bridge call per block (a CUDA kernel on a GPU, a parallel loop on a CPU). */
  static Tensor fusedSweep(Tensor w1, Tensor u1, List<Quantizer.Params> grids, Tensor keep, Grid grid, Tensor q, Tensor codes,
      Tensor losses) {
    try (Scope s = Scope.open()) {
      long r = w1.size(0), nb = w1.size(1);
      List<Tensor> sc = new ArrayList<>(), zr = new ArrayList<>();
      for (Quantizer.Params p : grids) {
        sc.add(p.scale().expand(r, 1));
        zr.add(p.zero().expand(r, 1));
      }
      Tensor wt = w1.t().contiguous(); // [nb, r]: a column's rows contiguous, so a warp's loads coalesce
      Tensor qt = Torch.zeros(DType.F32, w1.device(), nb, r), ct = Torch.zeros(DType.F32, w1.device(), nb, r),
          et = Torch.zeros(DType.F32, w1.device(), nb, r);
      Torch.gptqSweep(wt, u1.contiguous(), Torch.cat(sc, 1).t().contiguous(), Torch.cat(zr, 1).t().contiguous(),
          keep == null ? null : keep.t().contiguous(), grid.maxq(), qt, ct, et, losses);
      q.copyFrom(qt.t());
      codes.copyFrom(ct.t());
      return s.keep(et.t());
    }
  }

  private static Tensor slice(Tensor keep, long start, long length) {
    return keep == null ? null : keep.narrow(1, start, length);
  }
}
