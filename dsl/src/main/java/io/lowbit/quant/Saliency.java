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
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * How much each weight matters to the task (TaCQ, arXiv 2504.07389, §3): a score per weight of every quantized
 * linear, from the calibration gradients, the weights, and Q_ref(W), the unmasked GPTQ result at
 * the target bits on the same calibration set. Only the ranking matters; {@link Keep} turns scores
 * into a mask. The object does not own the gradients or the reference model it is given.
 */
public final class Saliency {
    /** The scoring rules: TaCQ and its parts, and the paper's ablation baselines (Table 5). */
    public enum Score {
        /** |W|·|G|·|Q_ref(W) − W|, the paper's combined score (the default). */
        TACQ,
        /** |G|·|Q_ref(W) − W|: quantization-aware localization. */
        QAL,
        /** |W|·|G|: magnitude-sharpened gradient. */
        MSG,
        /** |W|. */
        WEIGHT,
        /** Σ_s|g_s| alone. */
        GRADIENT,
        /** Σ_s g_s², the empirical Fisher diagonal. */
        FISHER,
        /** |Σ_s g_s|: the signed sum, whose signs cancel across sequences. */
        SIGNED_GRADIENT,
        /** (W − RTN(W))² / [H⁻¹]_jj², SpQR's sensitivity (OBS error of rounding one weight), H from the calibration inputs. */
        HESSIAN
    }

    private final Model model;
    private final Gradients gradients;
    private final QuantizedModel reference;
    private final QuantizedModel rounded;
    private final Map<String, Tensor> inverseHessianDiagonal;

    /**
     * {@code reference}: the unmasked GPTQ model at the target bits (Q_ref). {@code rounded} and
     * {@code inverseHessianDiagonal} are needed only for {@link Score#HESSIAN} (may be null otherwise).
     */
    public Saliency(
            Model model,
            Gradients gradients,
            QuantizedModel reference,
            QuantizedModel rounded,
            Map<String, Tensor> inverseHessianDiagonal) {
        this.model = model;
        this.gradients = gradients;
        this.reference = reference;
        this.rounded = rounded;
        this.inverseHessianDiagonal = inverseHessianDiagonal;
    }

    public Model model() {
        return model;
    }

    public Gradients gradients() {
        return gradients;
    }

    public QuantizedModel reference() {
        return reference;
    }

    /** The linears that get scores (every quantized linear), in the model's order. */
    public List<String> linears() {
        return model.linears().stream().map(Linear::name).toList();
    }

    /** The scores of one linear [out, in], float32 (a new tensor), on the model's device. */
    public Tensor scores(Score rule, String linear) {
        return scores(rule, linear, model.device());
    }

    /**
     * The scores of one linear computed on {@code on} (a new float32 tensor there): with the model,
     * gradients and Q_ref in host memory, each linear's operands go to the GPU for its product.
     */
    public Tensor scores(Score rule, String linear, Device on) {
        try (Scope s = Scope.open()) {
            Tensor wf = onAsF32(weight(model, linear), on);
            Tensor out = switch (rule) {
                case TACQ -> wf.abs().mul(gradients.abs(linear).to(on)).mul(refError(linear, wf, on));
                case QAL -> gradients.abs(linear).to(on).mul(refError(linear, wf, on));
                case MSG -> wf.abs().mul(gradients.abs(linear).to(on));
                case WEIGHT -> wf.abs();
                case GRADIENT -> gradients.abs(linear).to(on).clone();
                case FISHER -> gradients.square(linear).to(on).clone();
                case SIGNED_GRADIENT -> gradients.signed(linear).to(on).abs();
                case HESSIAN -> {
                    if (rounded == null || inverseHessianDiagonal == null)
                        throw new IllegalStateException(
                                "the Hessian score needs the rounded model and the inverse Hessian diagonals");
                    Tensor err = onAsF32(weight(rounded.model(), linear), on).sub(wf);
                    Tensor d = inverseHessianDiagonal.get(linear).to(on);
                    yield err.square().div(d.square().unsqueeze(0)); // column j's [H⁻¹]_jj divides every row's w_ij
                }
            };
            return s.keep(out);
        }
    }

    /** |Q_ref(W) − W| of one linear. */
    private Tensor refError(String linear, Tensor wf, Device on) {
        if (reference == null) throw new IllegalStateException("this score needs Q_ref, the unmasked GPTQ model");
        return onAsF32(weight(reference.model(), linear), on).sub(wf).abs();
    }

    /** t as float32 on {@code on}: copied in its own dtype, converted there (bf16 crosses at half the bytes, and the host does not convert). */
    private static Tensor onAsF32(Tensor t, Device on) {
        return t.to(on).to(DType.F32);
    }

    static Tensor weight(Model m, String linear) {
        for (Linear l : m.linears()) if (l.name().equals(linear)) return l.weight();
        throw new IllegalArgumentException(m.name() + " has no linear " + linear);
    }

    /**
     * diag(H⁻¹) of every linear's input Hessian (H = 2/S Σ X Xᵀ on the unquantized model, damped by
     * 1 % of its mean diagonal as GPTQ does), for {@link Score#HESSIAN}. New tensors [in] each.
     */
    public static Map<String, Tensor> inverseHessianDiagonals(Model m, Calibration cal, Progress progress) {
        Map<String, Hessian> hs = new LinkedHashMap<>();
        Map<String, Tensor> out = new LinkedHashMap<>();
        List<Linear> ls = m.linears();
        try {
            for (Linear l : ls) {
                Hessian h = new Hessian(l.inFeatures(), m.device());
                hs.put(l.name(), h);
                l.setInputHook(h::add);
            }
            int n = cal.sequences().size();
            for (int s = 0; s < n; s++) {
                Interrupts.check();
                try (Scope sc = Scope.open();
                        var ng = Torch.noGrad()) {
                    m.forward(m.tokens(cal.sequences().get(s)), null);
                }
                progress.update("Hessians", s + 1, n);
            }
            for (var e : hs.entrySet()) {
                try (Scope sc = Scope.open()) {
                    Tensor h = e.getValue().matrix();
                    long c = h.size(0);
                    Tensor eye = Torch.call1("aten::eye", "", c, DType.F32, null, h.device());
                    Tensor dead = h.diagonal().eq(0.0); // inputs that are always 0: H_jj = 1
                    h = Torch.where(eye.gt(0.0).logicalAnd(dead.unsqueeze(0)), eye, h);
                    h = h.add(eye.mul(0.01 * h.diagonal().mean().item())); // GPTQ's 1 % damping
                    try (Torch.Cholesky ch = Torch.choleskyEx(h, false)) {
                        if (!ch.ok())
                            throw new IllegalStateException(
                                    e.getKey() + ": the damped input Hessian is not positive definite");
                        out.put(
                                e.getKey(),
                                sc.keep(Torch.choleskyInverse(ch.factor(), false)
                                                .diagonal()
                                                .contiguous())
                                        .escape());
                    }
                }
            }
            return out;
        } catch (RuntimeException | Error e) {
            out.values().forEach(Tensor::close);
            throw e;
        } finally {
            for (Linear l : ls) l.setInputHook(null);
            hs.values().forEach(Hessian::close);
        }
    }
}
