package io.lowbit.quant;

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
import java.util.List;
import java.util.Set;

/**
 * Round to nearest: every weight to the nearest point of its row's (or group's) grid, fitted on the
 * weights alone, the baseline of GPTQ (Frantar et al., arXiv 2210.17323, §5) with the grid of
 * IST-DASLab/gptq quant.py; weights in a mask stay as they are and take no part in the fit.
 */
public final class Rtn {
    private Rtn() {}

    /** RTN has no options of its own: the grid says everything. */
    public record Options() implements Method {
        public static Options defaults() {
            return new Options();
        }

        @Override
        public String name() {
            return "RTN";
        }

        @Override
        public String label() {
            return Method.describe(name(), this, defaults(), Set.of());
        }
    }

    /** One weight [r, c] rounded group by group; {@code keep} (may be null) marks weights left as they are. */
    record Result(Tensor weight, Tensor codes, Tensor scales, Tensor zeros, int[] groupOfColumn, double loss) {}

    /** Float32 tensors the caller owns. */
    static Result quantize(Tensor weight, Tensor keep, Grid grid) {
        try (Scope s = Scope.open()) {
            Tensor w = weight.to(DType.F32);
            long c = w.size(1);
            int gs = grid.groupSize() > 0 ? grid.groupSize() : (int) c;
            List<Tensor> codes = new ArrayList<>(), deq = new ArrayList<>();
            List<Tensor> scales = new ArrayList<>(), zeros = new ArrayList<>();
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
            return new Result(
                    s.keep(dense).escape(),
                    s.keep(Torch.cat(codes, 1)).escape(),
                    s.keep(Torch.cat(scales, 1)).escape(),
                    s.keep(Torch.cat(zeros, 1)).escape(),
                    groupOf,
                    loss);
        }
    }

    /** A new RTN-quantized model (the original is untouched), the work on {@code work} one block at a time. */
    public static QuantizedModel run(Model m, Grid grid, Mask mask, Options o, Progress progress, Device work) {
        return BlockLoop.onCopy(m, o, grid, out -> {
            Model q = out.q;
            int total = q.linears().size();
            BlockLoop.run(q, null, work, progress, null, (i, none) -> {
                for (Linear l : q.blocks().get(i).linears()) {
                    Interrupts.check();
                    try (Scope s = Scope.open();
                            var g = Torch.noGrad()) {
                        Tensor keep = mask == null ? null : mask.on(l.name(), work);
                        Result r = quantize(l.weight(), keep, grid);
                        l.setWeight(r.weight().to(l.weight().dtype()).escape());
                        r.weight().close();
                        out.layers.put(
                                l.name(),
                                QuantizedLinear.stored(
                                        l.name(),
                                        grid,
                                        r.codes(),
                                        r.scales(),
                                        r.zeros(),
                                        r.groupOfColumn(),
                                        keep,
                                        r.loss(),
                                        q.device()));
                    }
                    progress.update("RTN linears", out.layers.size(), total);
                }
            });
        });
    }
}
