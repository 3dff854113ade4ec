package io.lowbit.quant;

import io.lowbit.data.Calibration;
import io.lowbit.model.Model;
import io.lowbit.model.Progress;
import io.lowbit.quant.Saliency.Score;
import io.lowbit.torch.DType;
import io.lowbit.torch.Device;

/**
 * TaCQ, task-circuit quantization (arXiv 2504.07389, §3), as one pipeline: the task's gradients on
 * the calibration set, Q_ref (the whole model quantized by GPTQ without a mask, on the same grid and
 * calibration set), the score |W|·|∂L/∂W|·|Q_ref(W) − W| of every weight, the top fraction of scores
 * over the whole model kept in 16 bits, and GPTQ on the rest with the kept weights masked.
 *
 * <pre>{@code
 * Tacq.run(model, Grid.bits(3).mse(), calibration, 0.0035, progress, Device.cuda())
 * }</pre>
 */
public final class Tacq {
    private Tacq() {}

    /**
     * The two expensive steps, which a caller may take from a cache (the notebook keeps them between
     * calls, so changing the budget costs seconds); by default computed for the run and freed after it.
     */
    public interface Steps {
        /** Σ_s |∂L_s/∂W| over the calibration sequences, float32. */
        default Gradients gradients(Model m, Calibration cal, Progress p, Device work) {
            return Gradients.compute(m, cal, DType.F32, false, p, work);
        }

        /** Q_ref: GPTQ with its default options and no mask. */
        default QuantizedModel reference(Model m, Grid grid, Calibration cal, Progress p, Device work) {
            return Gptq.run(m, grid, cal, null, Gptq.Options.defaults(), p, work);
        }

        /** Called once the run is over with what the two steps gave (null where a step did not finish). */
        default void release(Gradients g, QuantizedModel reference) {
            if (g != null) g.close();
            if (reference != null) reference.close();
        }
    }

    /** Every step computed for this run and freed after it; {@code fraction} of the weights kept (0.0035: 0.35 %). */
    public static QuantizedModel run(Model m, Grid grid, Calibration cal, double fraction, Progress p, Device work) {
        return run(m, grid, cal, fraction, new Steps() {}, p, work);
    }

    /** The pipeline with the expensive steps from {@code steps}; the work on {@code work}, the mask beside the model. */
    public static QuantizedModel run(
            Model m, Grid grid, Calibration cal, double fraction, Steps steps, Progress p, Device work) {
        Gradients g = null;
        QuantizedModel reference = null;
        try {
            g = steps.gradients(m, cal, p, work);
            reference = steps.reference(m, grid, cal, p, work);
            Saliency scores = new Saliency(m, g, reference, null, null);
            try (Mask keep =
                    Keep.global(scores.linears(), l -> scores.scores(Score.TACQ, l, work), fraction, m.device())) {
                return Gptq.run(m, grid, cal, keep, Gptq.Options.defaults(), p, work);
            }
        } finally {
            steps.release(g, reference);
        }
    }
}
