package io.lowbit.model;

import io.lowbit.torch.Tensor;
import io.lowbit.torch.Torch;
import java.util.function.Consumer;

/**
 * A linear layer y = x·Wᵀ (+ b): what quantization works on. Its name is stable
 * ("layers.3.attn.q", "layers.3.mlp.down"); its weight can be read and replaced in place; an input
 * hook sees every input it gets (how GPTQ collects Hessians).
 */
public final class Linear {
    private final String name;
    private Tensor weight;
    private Tensor bias;
    private Consumer<Tensor> inputHook;

    Linear(String name, Tensor weight, Tensor bias) {
        this.name = name;
        this.weight = weight;
        this.bias = bias;
    }

    public String name() {
        return name;
    }

    /** The weight [out, in]; owned by the layer (do not close it). */
    public Tensor weight() {
        return weight;
    }

    /** The bias [out], or null. */
    public Tensor bias() {
        return bias;
    }

    public long outFeatures() {
        return weight.size(0);
    }

    public long inFeatures() {
        return weight.size(1);
    }

    /** Replaces the weight (same shape); the layer takes ownership of {@code w} and frees the old one. */
    public void setWeight(Tensor w) {
        long[] old = weight.shape(), now = w.shape();
        if (!java.util.Arrays.equals(old, now))
            throw new IllegalArgumentException(name + ": new weight has shape " + java.util.Arrays.toString(now)
                    + ", the layer's is " + java.util.Arrays.toString(old));
        if (w == weight) return;
        Tensor previous = weight;
        weight = w;
        previous.close();
    }

    /** Replaces the bias (same shape); the layer takes ownership of {@code b} and frees the old one. */
    public void setBias(Tensor b) {
        if (bias == null || b.numel() != bias.numel())
            throw new IllegalArgumentException(name + ": no bias of " + b.numel() + " entries to replace");
        if (b == bias) return;
        Tensor previous = bias;
        bias = b;
        previous.close();
    }

    /** Moves weight and bias to {@code device} (how block-by-block work keeps one block on a GPU). */
    void moveTo(io.lowbit.torch.Device device) {
        if (weight.device().equals(device)) return;
        Tensor w = weight.to(device).escape();
        weight.close();
        weight = w;
        if (bias != null) {
            Tensor b = bias.to(device).escape();
            bias.close();
            bias = b;
        }
    }

    /** Called with each input [.., in] before the product; null removes it. */
    public void setInputHook(Consumer<Tensor> hook) {
        this.inputHook = hook;
    }

    /** y = x·Wᵀ (+ b) alone, e.g. to compare one layer's output under different weights. */
    public Tensor apply(Tensor x) {
        return forward(x);
    }

    Tensor forward(Tensor x) {
        if (inputHook != null) inputHook.accept(x);
        return Torch.linear(x, weight, bias);
    }

    /** A layer over second handles to the same tensors, so its weight can be replaced independently. */
    Linear copy() {
        return new Linear(name, weight.share(), bias == null ? null : bias.share());
    }

    void close() {
        weight.close();
        if (bias != null) bias.close();
    }

    @Override
    public String toString() {
        return "Linear[" + name + ", " + outFeatures() + "x" + inFeatures() + (bias != null ? ", bias" : "") + "]";
    }
}
