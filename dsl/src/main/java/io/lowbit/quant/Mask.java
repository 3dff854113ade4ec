package io.lowbit.quant;

import io.lowbit.torch.Tensor;
import java.util.Map;

/**
 * Which weights stay in 16 bits: a boolean tensor [out, in] per linear name (absent: none kept).
 * The mask owns its tensors.
 */
public record Mask(Map<String, Tensor> kept) implements AutoCloseable {
    public Mask {
        kept = Map.copyOf(kept);
    }

    /** The kept weights of one linear, or null. */
    public Tensor of(String linear) {
        return kept.get(linear);
    }

    /** The kept weights of one linear on {@code d} (where the work is), or null. */
    public Tensor on(String linear, io.lowbit.torch.Device d) {
        Tensor k = kept.get(linear);
        return k == null || k.device().equals(d) ? k : k.to(d);
    }

    public long count() {
        long n = 0;
        for (Tensor t : kept.values()) n += t.sum().itemLong();
        return n;
    }

    @Override
    public void close() {
        for (Tensor t : kept.values()) t.close();
    }
}
