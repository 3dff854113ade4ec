package io.lowbit.model;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * A float64 Llama forward pass in plain Java, written the way llama2.c's run.c computes (one token
 * at a time, a KV cache, RoPE on interleaved pairs (2i, 2i+1), the checkpoint read here on its own),
 * to check the engine's model against an independent path.
 */
final class PlainLlama {
    final int dim, hidden, layers, heads, kvHeads, vocab, seqLen, headSize, kvDim;
    final double[] embed, rmsAtt, wq, wk, wv, wo, rmsFfn, w1, w2, w3, rmsFinal, wcls;

    PlainLlama(Path file) throws IOException {
        ByteBuffer b = ByteBuffer.wrap(Files.readAllBytes(file)).order(ByteOrder.LITTLE_ENDIAN);
        dim = b.getInt();
        hidden = b.getInt();
        layers = b.getInt();
        heads = b.getInt();
        kvHeads = b.getInt();
        int v = b.getInt();
        vocab = Math.abs(v);
        seqLen = b.getInt();
        headSize = dim / heads;
        kvDim = kvHeads * headSize;
        embed = read(b, vocab * dim);
        rmsAtt = read(b, layers * dim);
        wq = read(b, layers * dim * dim);
        wk = read(b, layers * kvDim * dim);
        wv = read(b, layers * kvDim * dim);
        wo = read(b, layers * dim * dim);
        rmsFfn = read(b, layers * dim);
        w1 = read(b, layers * hidden * dim);
        w2 = read(b, layers * dim * hidden);
        w3 = read(b, layers * hidden * dim);
        rmsFinal = read(b, dim);
        read(b, seqLen * headSize); // legacy RoPE tables
        wcls = v > 0 ? embed : read(b, vocab * dim);
    }

    private static double[] read(ByteBuffer b, int n) {
        double[] x = new double[n];
        for (int i = 0; i < n; i++) x[i] = b.getFloat();
        return x;
    }

    /** out[rows] = W[rows, cols] (at offset) · x. */
    private static void matvec(double[] out, double[] w, int offset, double[] x, int rows, int cols) {
        for (int r = 0; r < rows; r++) {
            double s = 0;
            for (int c = 0; c < cols; c++) s += w[offset + r * cols + c] * x[c];
            out[r] = s;
        }
    }

    private static void rmsnorm(double[] out, double[] x, double[] w, int offset, double eps) {
        double ss = 0;
        for (double v : x) ss += v * v;
        double scale = 1 / Math.sqrt(ss / x.length + eps);
        for (int i = 0; i < x.length; i++) out[i] = w[offset + i] * x[i] * scale;
    }

    /** Mean negative log-likelihood of tokens[1..n-1] given the earlier ones. */
    double meanNll(int[] tokens) {
        int n = tokens.length;
        double[][][] keys = new double[layers][n][kvDim], values = new double[layers][n][kvDim];
        double nll = 0;
        double[] x = new double[dim], xb = new double[dim], q = new double[dim], att = new double[dim];
        double[] h1 = new double[hidden], h3 = new double[hidden], logits = new double[vocab];
        for (int pos = 0; pos < n - 1; pos++) {
            System.arraycopy(embed, tokens[pos] * dim, x, 0, dim);
            for (int l = 0; l < layers; l++) {
                rmsnorm(xb, x, rmsAtt, l * dim, 1e-5);
                matvec(q, wq, l * dim * dim, xb, dim, dim);
                matvec(keys[l][pos], wk, l * kvDim * dim, xb, kvDim, dim);
                matvec(values[l][pos], wv, l * kvDim * dim, xb, kvDim, dim);
                for (int i = 0; i < dim; i += 2) { // rotate interleaved pairs
                    int j = i % headSize;
                    double freq = 1.0 / Math.pow(10000.0, j / (double) headSize);
                    double c = Math.cos(pos * freq), s = Math.sin(pos * freq);
                    rotate(q, i, c, s);
                    if (i < kvDim) rotate(keys[l][pos], i, c, s);
                }
                int group = heads / kvHeads;
                for (int h = 0; h < heads; h++) {
                    int kvh = h / group;
                    double[] scores = new double[pos + 1];
                    double max = Double.NEGATIVE_INFINITY;
                    for (int t = 0; t <= pos; t++) {
                        double s = 0;
                        for (int i = 0; i < headSize; i++) s += q[h * headSize + i] * keys[l][t][kvh * headSize + i];
                        scores[t] = s / Math.sqrt(headSize);
                        max = Math.max(max, scores[t]);
                    }
                    double z = 0;
                    for (int t = 0; t <= pos; t++) z += scores[t] = Math.exp(scores[t] - max);
                    for (int i = 0; i < headSize; i++) {
                        double acc = 0;
                        for (int t = 0; t <= pos; t++) acc += scores[t] / z * values[l][t][kvh * headSize + i];
                        att[h * headSize + i] = acc;
                    }
                }
                matvec(xb, wo, l * dim * dim, att, dim, dim);
                for (int i = 0; i < dim; i++) x[i] += xb[i];
                rmsnorm(xb, x, rmsFfn, l * dim, 1e-5);
                matvec(h1, w1, l * hidden * dim, xb, hidden, dim);
                matvec(h3, w3, l * hidden * dim, xb, hidden, dim);
                for (int i = 0; i < hidden; i++) h1[i] = h1[i] / (1 + Math.exp(-h1[i])) * h3[i];
                matvec(xb, w2, l * dim * hidden, h1, dim, hidden);
                for (int i = 0; i < dim; i++) x[i] += xb[i];
            }
            rmsnorm(xb, x, rmsFinal, 0, 1e-5);
            matvec(logits, wcls, 0, xb, vocab, dim);
            double max = Double.NEGATIVE_INFINITY, z = 0;
            for (double v : logits) max = Math.max(max, v);
            for (double v : logits) z += Math.exp(v - max);
            nll += -(logits[tokens[pos + 1]] - max - Math.log(z));
        }
        return nll / (n - 1);
    }

    private static void rotate(double[] v, int i, double c, double s) {
        double a = v[i], b = v[i + 1];
        v[i] = a * c - b * s;
        v[i + 1] = a * s + b * c;
    }
}
