package io.lowbit.dsl;

import io.lowbit.data.Calibration;
import io.lowbit.model.Model;
import io.lowbit.model.Progress;
import io.lowbit.quant.Gptq;
import io.lowbit.quant.Gradients;
import io.lowbit.quant.Grid;
import io.lowbit.quant.Keep;
import io.lowbit.quant.Mask;
import io.lowbit.quant.Quantize;
import io.lowbit.quant.QuantizedModel;
import io.lowbit.quant.Rtn;
import io.lowbit.quant.Saliency;
import io.lowbit.quant.Saliency.Score;
import io.lowbit.torch.DType;
import io.lowbit.torch.Device;
import io.lowbit.torch.Tensor;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.Function;

/**
 * TaCQ in the notebook: what is expensive is computed once and kept, keyed by the model's weights
 * and the calibration set — the gradients, Q_ref per grid, the rounded model and input Hessians
 * for the SpQR-style baseline — so changing the budget, the bits or the score rule costs seconds.
 */
final class Tacq {
    private Tacq() {}

    // bounded by Caches.limits(), least recently used first; an evicted entry's tensors are freed
    private static final BoundedCache<Gradients> GRADIENTS = new BoundedCache<>(
            () -> Caches.limits().gradients(),
            () -> Caches.limits().gradientBytes(),
            g -> 0,
            Gradients::close); // sized by gradients(), which knows the linears
    private static final BoundedCache<QuantizedModel> REFERENCES = new BoundedCache<>(
            () -> Caches.limits().references(),
            () -> Caches.limits().referenceBytes(),
            Tacq::bytes,
            QuantizedModel::close);
    private static final BoundedCache<QuantizedModel> ROUNDED = new BoundedCache<>(
            () -> Caches.limits().references(),
            () -> Caches.limits().referenceBytes(),
            Tacq::bytes,
            QuantizedModel::close);
    private static final BoundedCache<Map<String, Tensor>> HESSIANS = new BoundedCache<>(
            () -> Caches.limits().hessians(),
            () -> Caches.limits().hessianBytes(),
            h -> h.values().stream().mapToLong(Tensor::byteSize).sum(),
            h -> h.values().forEach(Tensor::close));
    private static final List<Gradients> RETIRED = new ArrayList<>();

    /**
     * What identifies the weights, where they and the work live, and the calibration set (the
     * fingerprint is a pass over the weights: take it once per call). The devices keep a host copy
     * of a GPU model from reading cached tensors in GPU memory, and the other way round.
     */
    static String key(String fingerprint, Calibration cal, Device home, Device work) {
        int h = 1;
        for (int[] s : cal.sequences()) h = 31 * h + Arrays.hashCode(s);
        return fingerprint + "|" + home + "→" + work + "|" + cal.name() + "|"
                + cal.sequences().size() + "×" + cal.tokens() + "|" + Integer.toHexString(h);
    }

    private static String key(String fingerprint, Calibration cal, Model m) {
        return key(fingerprint, cal, m.device(), Device.defaultDevice());
    }

    /** The dense linear weights a quantized copy owns (the rest it shares with its model). */
    private static long bytes(QuantizedModel q) {
        return q.model().linears().stream()
                .mapToLong(l -> l.weight().byteSize())
                .sum();
    }

    private static Gradients gradients(String k, Model m, Calibration cal, boolean baselines, Progress p) {
        Gradients g = GRADIENTS.get(k);
        if (g != null && (!baselines || g.hasBaselines())) return g;
        // a model in host memory and a GPU: block by block, the sums staying in host memory
        Gradients fresh = Gradients.compute(m, cal, DType.F32, baselines, p, Device.defaultDevice());
        if (g != null) RETIRED.add(g); // scores made earlier may still read it: freed by clear()
        long bytes = 0;
        for (var l : m.linears())
            bytes += fresh.abs(l.name()).byteSize() * (fresh.hasBaselines() ? 3 : 1); // Σ|g|, and Σg², Σg
        GRADIENTS.put(k, fresh, bytes);
        return fresh;
    }

    /**
     * Q_ref: the unmasked GPTQ model at this grid on this calibration set; TaCQ simulates quantization
     * with GPTQ without outliers (arXiv 2504.07389, App. D.4).
     */
    static synchronized QuantizedModel reference(Model m, Calibration cal, Grid grid, Progress p) {
        return reference(key(m.fingerprint(), cal, m), m, cal, grid, p);
    }

    private static synchronized QuantizedModel reference(String k, Model m, Calibration cal, Grid grid, Progress p) {
        Gptq.Options gptq = Gptq.Options.defaults();
        return REFERENCES.computeIfAbsent(
                k + "|" + gptq.label() + "|" + grid,
                key -> Quantize.run(m, grid, gptq, cal, null, p, Device.defaultDevice()));
    }

    /**
     * TaCQ's whole pipeline ({@link io.lowbit.quant.Tacq}) with the gradients and Q_ref from this
     * cache: only the scores, the mask and the masked GPTQ are computed again.
     */
    static QuantizedModel tacq(Model m, Grid grid, Calibration cal, double percent, Progress p) {
        String k = key(m.fingerprint(), cal, m);
        io.lowbit.quant.Tacq.Steps cached = new io.lowbit.quant.Tacq.Steps() {
            @Override
            public Gradients gradients(Model model, Calibration c, Progress q, Device work) {
                return cachedGradients(k, model, c, q);
            }

            @Override
            public QuantizedModel reference(Model model, Grid g, Calibration c, Progress q, Device work) {
                return Tacq.reference(k, model, c, g, q);
            }

            @Override
            public void release(Gradients g, QuantizedModel reference) {} // the cache keeps them
        };
        return io.lowbit.quant.Tacq.run(m, grid, cal, percent / 100.0, cached, p, Device.defaultDevice());
    }

    private static synchronized Gradients cachedGradients(String k, Model m, Calibration cal, Progress p) {
        return gradients(k, m, cal, false, p);
    }

    static synchronized Saliency saliency(Model m, Calibration cal, Score rule, Grid grid, Progress p) {
        String fingerprint = m.fingerprint();
        String k = key(fingerprint, cal, m);
        boolean baselines = rule == Score.FISHER || rule == Score.SIGNED_GRADIENT;
        Gradients g = rule == Score.WEIGHT || rule == Score.HESSIAN ? null : gradients(k, m, cal, baselines, p);
        QuantizedModel ref = rule == Score.TACQ || rule == Score.QAL ? reference(k, m, cal, grid, p) : null;
        QuantizedModel rounded = null;
        Map<String, Tensor> hinv = null;
        if (rule == Score.HESSIAN) {
            String where = m.device() + "→" + Device.defaultDevice();
            rounded = ROUNDED.computeIfAbsent(
                    fingerprint + "|" + where + "|" + grid,
                    key -> Quantize.run(m, grid, Rtn.Options.defaults(), null, null, p, Device.defaultDevice()));
            hinv = HESSIANS.computeIfAbsent(k, key -> Saliency.inverseHessianDiagonals(m, cal, p));
        }
        return new Saliency(m, g, ref, rounded, hinv);
    }

    /** Every linear's scores under the rule, in model order (new tensors). */
    static Map<String, Tensor> scores(Saliency s, Score rule) {
        Map<String, Tensor> out = new LinkedHashMap<>();
        for (String l : s.linears()) out.put(l, s.scores(rule, l));
        return out;
    }

    /** One linear's scores at a time, computed on the default device; the mask beside the model. */
    static Mask keep(Saliency s, Score rule, double percent, KeepScope scope) {
        if (!(percent >= 0 && percent <= 100)) // the DSL speaks percent; quant.Keep's own message speaks fractions
        throw new IllegalArgumentException(
                    "keep takes a percent of the weights in [0, 100] (0.35 keeps 0.35 %), not " + percent);
        double f = percent / 100.0;
        Device work = Device.defaultDevice(), home = s.model().device();
        Function<String, Tensor> scores = l -> s.scores(rule, l, work);
        return switch (scope) {
            case GLOBAL -> Keep.global(s.linears(), scores, f, home);
            case PER_MATRIX -> Keep.perMatrix(s.linears(), scores, f, home);
            case PER_ROW -> Keep.perRow(s.linears(), scores, f, home);
        };
    }

    static synchronized void clear() {
        RETIRED.forEach(Gradients::close);
        RETIRED.clear();
        GRADIENTS.clear();
        REFERENCES.clear();
        ROUNDED.clear();
        HESSIANS.clear();
    }

    /** How many gradient sets and Q_ref models are kept now. */
    static synchronized int[] cached() {
        return new int[] {GRADIENTS.size(), REFERENCES.size()};
    }

    /** Kept weights per layer (rows) and matrix type (columns), with totals. */
    static Table keptTable(Mask mask, List<String> linears) {
        List<String> types = new ArrayList<>();
        Map<String, Map<String, Long>> byLayer = new LinkedHashMap<>();
        for (String l : linears) {
            String layer = l.substring(0, l.indexOf('.', l.indexOf('.') + 1)); // "layers.3"
            String type = l.substring(l.lastIndexOf('.') + 1); // "q", "down", ...
            if (!types.contains(type)) types.add(type);
            Tensor t = mask.of(l);
            byLayer.computeIfAbsent(layer, k -> new LinkedHashMap<>())
                    .put(type, t == null ? 0 : t.sum().itemLong());
        }
        List<String> cols = new ArrayList<>(List.of("layer"));
        cols.addAll(types);
        cols.add("total");
        List<List<Object>> rows = new ArrayList<>();
        long[] colTotals = new long[types.size() + 1];
        for (var e : byLayer.entrySet()) {
            List<Object> row = new ArrayList<>(List.of(e.getKey()));
            long total = 0;
            for (int i = 0; i < types.size(); i++) {
                long n = e.getValue().getOrDefault(types.get(i), 0L);
                row.add(n);
                total += n;
                colTotals[i] += n;
            }
            row.add(total);
            colTotals[types.size()] += total;
            rows.add(row);
        }
        List<Object> all = new ArrayList<>(List.of("all"));
        for (long n : colTotals) all.add(n);
        rows.add(all);
        return Table.of("kept weights", cols, rows);
    }

    static String percent(double p) {
        return String.format(Locale.ROOT, "%.4g%%", p);
    }
}
