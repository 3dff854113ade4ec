package io.lowbit.dsl;

import static io.lowbit.dsl.Lowbit.*;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.lowbit.data.Calibration;
import io.lowbit.model.Model;
import io.lowbit.model.Progress;
import io.lowbit.quant.QuantizedModel;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * A sweep reports to one progress display and draws its metric against average bits, a line per
 * rule; charts name the task and the metric with its unit; {@code pareto} draws models by method.
 */
class SweepChartTest {
    static Model m;
    static Calibration cal;
    static final Task.Perplexity TASK = perplexity(tinystories()).first(2).window(128);

    @BeforeAll
    static void setUp() {
        m = load("stories260K");
        cal = calibrate(m, tinystoriesTrain(), 4, 64);
    }

    @AfterAll
    static void tearDown() {
        setProgress(() -> Progress.NONE);
        clearCaches();
        m.close();
    }

    /** What a display is told: the stage, its detail, done and total. */
    record Update(String what, String detail, long done, long total) {}

    /** Counts the displays the verbs open, and records every update they get. */
    static final class Recorder {
        int displays;
        final List<Update> updates = new ArrayList<>();

        Progress open() {
            displays++;
            return new Progress() {
                @Override
                public void update(String what, long done, long total) {
                    updates.add(new Update(what, null, done, total));
                }

                @Override
                public void update(String what, String detail, long done, long total) {
                    updates.add(new Update(what, detail, done, total));
                }
            };
        }
    }

    @Test
    void aSweepIsOneDisplayWithAStepPerRowAndItsWorkAsTheDetail() {
        Recorder r = new Recorder();
        setProgress(r::open);
        Sweep sw;
        try {
            sw = sweep(m, cal, TASK, List.of(0.0, 1.0), List.of(3), TACQ, MSG);
        } finally {
            setProgress(() -> Progress.NONE);
        }
        assertEquals(1, r.displays, "one display for the whole sweep, not one per quantize and eval");
        int steps = sw.table().rows().size();
        assertEquals(4, steps);
        long last = 0;
        for (Update u : r.updates) {
            assertEquals("sweep", u.what(), u.toString());
            assertEquals(steps, u.total(), u.toString());
            assertTrue(u.done() >= last, "steps only go forward: " + u);
            last = u.done();
        }
        Update end = r.updates.get(r.updates.size() - 1);
        assertEquals(steps, end.done(), "the last update finishes the bar");
        String step = "MSG W3 " + Tacq.percent(1.0);
        assertTrue(
                r.updates.stream()
                        .anyMatch(u -> u.detail() != null
                                && u.detail().startsWith(step)
                                && u.detail().contains("GPTQ blocks")),
                "the inner work shows as the step's detail");
    }

    @Test
    void theSweepChartIsTheMetricAgainstBitsALinePerRuleNamedWithTaskAndUnit() {
        setProgress(() -> Progress.NONE);
        Sweep sw = sweep(m, cal, TASK, List.of(0.0, 1.0, 5.0), List.of(3), TACQ, WEIGHT);
        Chart c = pareto(sw);
        assertTrue(c.title().contains("tinystories-val") && c.title().contains("perplexity"), c.title());
        assertEquals("perplexity (per token, lower is better)", c.yTitle());
        assertTrue(c.xTitle().startsWith("average bits per weight"), c.xTitle());
        Map<String, List<double[]>> lines = c.series();
        assertEquals(List.of("TACQ", "WEIGHT"), List.copyOf(lines.keySet()));
        for (var e : lines.entrySet()) {
            // the line's points are its rows of the table, (bits (papers), perplexity), in order of bits
            List<List<Object>> rows = sw.table().rows().stream()
                    .filter(row -> row.get(0).equals(e.getKey()))
                    .toList();
            assertEquals(rows.size(), e.getValue().size());
            for (double[] p : e.getValue())
                assertTrue(
                        rows.stream().anyMatch(row -> (double) row.get(3) == p[0] && (double) row.get(5) == p[1]),
                        e.getKey() + " point " + p[0] + ", " + p[1]);
            for (int i = 1; i < e.getValue().size(); i++)
                assertTrue(e.getValue().get(i)[0] >= e.getValue().get(i - 1)[0]);
        }
        assertTrue(sw.chart().png().length > 1000);
    }

    @Test
    void compareNamesTheTaskAndTheMetricAxis() {
        setProgress(() -> Progress.NONE);
        try (QuantizedModel q = quantize(m, bits(4), RTN)) {
            Chart c = compare(List.of(m, q), TASK).chart();
            assertTrue(c.title().contains("tinystories-val"), c.title());
            assertEquals("perplexity (per token, lower is better)", c.yTitle());
        }
    }

    @Test
    void paretoDrawsEachMethodAsALineOfItsModelsByBits() {
        setProgress(() -> Progress.NONE);
        try (QuantizedModel r3 = quantize(m, bits(3), RTN);
                QuantizedModel r4 = quantize(m, bits(4), RTN);
                QuantizedModel g3 = quantize(m, bits(3), GPTQ, cal)) {
            Chart c = pareto(List.of(m, r4, g3, r3), TASK);
            assertTrue(c.title().contains("tinystories-val") && c.title().contains("perplexity"), c.title());
            assertEquals("perplexity (per token, lower is better)", c.yTitle());
            Map<String, List<double[]>> lines = c.series();
            assertEquals(List.of("unquantized f32", "RTN", "GPTQ"), List.copyOf(lines.keySet()));
            List<double[]> rtn = lines.get("RTN");
            // RTN's line goes up in bits: W3 then W4, each at its eval's perplexity
            assertEquals(3.0, rtn.get(0)[0], 0);
            assertEquals(4.0, rtn.get(1)[0], 0);
            assertEquals((double) eval(r3, TASK).get(0, "value"), rtn.get(0)[1], 0);
            assertEquals((double) eval(r4, TASK).get(0, "value"), rtn.get(1)[1], 0);
            assertEquals(32.0, lines.get("unquantized f32").get(0)[0], 0);
            assertEquals(
                    (double) eval(m, TASK).get(0, "value"),
                    lines.get("unquantized f32").get(0)[1],
                    0);
        }
    }
}
