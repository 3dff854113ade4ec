package io.lowbit.dsl;

import io.lowbit.data.Calibration;
import io.lowbit.model.Model;
import io.lowbit.quant.Grid;
import io.lowbit.quant.Saliency;
import io.lowbit.quant.Saliency.Score;

/** Scores of every weight of every quantized linear under one rule; the expensive parts are cached. */
public record Scores(Model model, Calibration calibration, Score rule, Grid grid, Saliency saliency) {
    /** The rule's scores on {@code cal}, from the gradients and Q_ref kept for this model and set. */
    static Scores of(Model m, Calibration cal, Score rule, Grid grid) {
        return new Scores(m, cal, rule, grid, Tacq.saliency(m, cal, rule, grid, Lowbit.progress()));
    }

    @Override
    public String toString() {
        return "Scores[" + rule + " of " + model.name() + " on " + calibration.name() + ", Q_ref at " + grid + "]";
    }
}
