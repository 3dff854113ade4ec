package io.lowbit.quant;

import io.lowbit.data.Calibration;
import io.lowbit.model.Model;
import io.lowbit.model.Progress;
import io.lowbit.torch.Device;

/**
 * Quantizes every q, k, v, o, gate, up, down weight of a model into a new model (the original is
 * untouched) with the algorithm whose options are given: the one place that knows them all.
 */
public final class Quantize {
    private Quantize() {}

    /** Works on the model's own device. */
    public static QuantizedModel run(Model m, Grid grid, Method method, Calibration cal, Mask mask, Progress progress) {
        return run(m, grid, method, cal, mask, progress, m.device());
    }

    /**
     * Works on {@code work}: each block is moved there, quantized, and moved back, so a model in host
     * memory larger than the GPU's memory can be quantized on the GPU one block at a time.
     * {@code mask} (may be null) marks weights kept in 16 bits: RTN, GPTQ and CLAQ only.
     */
    public static QuantizedModel run(
            Model m, Grid grid, Method method, Calibration cal, Mask mask, Progress progress, Device work) {
        return switch (method) {
            case Rtn.Options o -> Rtn.run(m, grid, mask, o, progress, work);
            case Gptq.Options o -> Gptq.run(m, grid, cal, mask, o, progress, work);
            case Awq.Options o -> {
                if (mask != null)
                    throw new IllegalArgumentException(
                            "AWQ does not keep weights in 16 bits; use GPTQ or RTN with a mask");
                yield Awq.run(m, grid, cal, o, progress, work);
            }
            case Tesseraq.Options o -> {
                if (mask != null)
                    throw new IllegalArgumentException(
                            "TesseraQ does not keep weights in 16 bits; use GPTQ or RTN with a mask");
                yield Tesseraq.run(m, grid, cal, o, progress, work);
            }
            case Claq.Options o -> Claq.run(m, grid, cal, mask, o, progress, work);
        };
    }
}
