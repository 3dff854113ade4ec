package io.lowbit.torch;

import java.util.Random;

/** Plain-Java reference computations (float64), independent of libtorch. */
final class Plain {
    private Plain() {}

    static double[] random(Random r, int n) {
        double[] x = new double[n];
        for (int i = 0; i < n; i++) x[i] = r.nextGaussian();
        return x;
    }

    /** [m,k]·[k,n] row-major. */
    static double[] matmul(double[] a, double[] b, int m, int k, int n) {
        double[] c = new double[m * n];
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++) {
                double s = 0;
                for (int p = 0; p < k; p++) s += a[i * k + p] * b[p * n + j];
                c[i * n + j] = s;
            }
        return c;
    }

    static double[] softmaxRows(double[] x, int rows, int cols) {
        double[] y = new double[x.length];
        for (int i = 0; i < rows; i++) {
            double max = Double.NEGATIVE_INFINITY;
            for (int j = 0; j < cols; j++) max = Math.max(max, x[i * cols + j]);
            double z = 0;
            for (int j = 0; j < cols; j++) z += Math.exp(x[i * cols + j] - max);
            for (int j = 0; j < cols; j++) y[i * cols + j] = Math.exp(x[i * cols + j] - max) / z;
        }
        return y;
    }

    /** Lower Cholesky factor of an SPD matrix. */
    static double[] cholesky(double[] a, int n) {
        double[] l = new double[n * n];
        for (int i = 0; i < n; i++)
            for (int j = 0; j <= i; j++) {
                double s = a[i * n + j];
                for (int k = 0; k < j; k++) s -= l[i * n + k] * l[j * n + k];
                l[i * n + j] = i == j ? Math.sqrt(s) : s / l[j * n + j];
            }
        return l;
    }

    /** A random SPD matrix XᵀX/rows + I. */
    static double[] spd(Random r, int n) {
        int rows = 2 * n;
        double[] x = random(r, rows * n);
        double[] a = new double[n * n];
        for (int i = 0; i < n; i++)
            for (int j = 0; j < n; j++) {
                double s = 0;
                for (int p = 0; p < rows; p++) s += x[p * n + i] * x[p * n + j];
                a[i * n + j] = s / rows + (i == j ? 1 : 0);
            }
        return a;
    }
}
