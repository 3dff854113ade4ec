package io.lowbit.model;

import io.lowbit.torch.DType;
import io.lowbit.torch.Device;
import io.lowbit.torch.Scope;
import io.lowbit.torch.Tensor;
import io.lowbit.torch.Torch;
import java.util.List;

/**
 * Rotary position embedding in the Hugging Face layout: dimension i is paired with i + d/2
 * (llama2.c's interleaved q/k rows are permuted into this layout at load time). cos/sin tables
 * are made once in float32 for every position and cast to the activations' dtype per call.
 */
final class Rope implements AutoCloseable {
    private final Tensor cos; // [maxPositions, headDim], float32
    private final Tensor sin;

    Rope(Config c, Device device) {
        double[] inv = inverseFrequencies(c);
        try (Scope s = Scope.open()) {
            Tensor invFreq = Torch.tensor(inv, inv.length).to(device, DType.F32);
            Tensor pos = Torch.arange(0, c.maxPositions(), 1, DType.F32, device).unsqueeze(1);
            Tensor freqs = pos.mul(invFreq.unsqueeze(0)); // [T, d/2]
            Tensor emb = Torch.cat(List.of(freqs, freqs), 1); // [T, d]
            cos = emb.cos().escape();
            sin = emb.sin().escape();
        }
    }

    /** θ^(−2i/d), adjusted per Llama 3's rule when the config asks for it. */
    static double[] inverseFrequencies(Config c) {
        int half = c.headDim() / 2;
        double[] inv = new double[half];
        for (int i = 0; i < half; i++) inv[i] = 1.0 / Math.pow(c.ropeTheta(), (2.0 * i) / c.headDim());
        Config.RopeScaling s = c.ropeScaling();
        if (s == null) return inv;
        double lowWavelen = s.originalMaxPositions() / s.lowFreqFactor();
        double highWavelen = s.originalMaxPositions() / s.highFreqFactor();
        for (int i = 0; i < half; i++) {
            double wavelen = 2 * Math.PI / inv[i];
            if (wavelen > lowWavelen) {
                inv[i] = inv[i] / s.factor(); // long wavelengths: scaled
            } else if (wavelen >= highWavelen) { // in between: interpolated
                double smooth = (s.originalMaxPositions() / wavelen - s.lowFreqFactor())
                        / (s.highFreqFactor() - s.lowFreqFactor());
                inv[i] = (1 - smooth) * inv[i] / s.factor() + smooth * inv[i];
            } // short wavelengths: unchanged
        }
        return inv;
    }

    /**
     * Rotates x [B, heads, T, d] at positions [B, T] (int64): x·cos + rotate_half(x)·sin, where
     * rotate_half(x) = (−x₂, x₁) for the halves x₁, x₂.
     */
    Tensor apply(Tensor x, Tensor positions) {
        try (Scope s = Scope.open()) {
            long b = positions.size(0), t = positions.size(1), d = x.size(-1);
            Tensor flat = positions.reshape(-1);
            Tensor c = cos.indexSelect(0, flat).view(b, 1, t, d).to(x.dtype());
            Tensor sn = sin.indexSelect(0, flat).view(b, 1, t, d).to(x.dtype());
            Tensor x1 = x.narrow(-1, 0, d / 2), x2 = x.narrow(-1, d / 2, d / 2);
            Tensor rotated = Torch.cat(List.of(x2.neg(), x1), -1);
            return s.keep(x.mul(c).add(rotated.mul(sn)));
        }
    }

    @Override
    public void close() {
        cos.close();
        sin.close();
    }
}
