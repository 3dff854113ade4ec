package io.lowbit.dsl;

import io.lowbit.quant.QuantizedModel;
import io.lowbit.quant.Tesseraq;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** TesseraQ's block reconstruction as a table and a chart. */
final class Reconstruction {
    private Reconstruction() {}

    /**
     * Per block: the loss of round-to-nearest on the initial grid and after training, the reduction,
     * seconds, whether it was resumed; and a chart of each block's mean training loss per round.
     */
    static Comparison of(QuantizedModel q) {
        List<Tesseraq.BlockLoss> bs = q.reconstruction();
        if (bs.isEmpty())
            throw new IllegalArgumentException(
                    q.method().name() + " has no block reconstruction; quantize with TESSERAQ");
        List<List<Object>> rows = new ArrayList<>();
        Map<String, List<Double>> series = new LinkedHashMap<>();
        int rounds = 0;
        for (var b : bs) {
            rows.add(List.of(
                    b.block(),
                    b.nearestLoss(),
                    b.finalLoss(),
                    100 * (1 - b.finalLoss() / b.nearestLoss()),
                    b.seconds(),
                    b.resumed() ? "yes" : "no"));
            if (!b.roundLoss().isEmpty()) series.put("block " + b.block(), b.roundLoss());
            rounds = Math.max(rounds, b.roundLoss().size());
        }
        Table t = Table.of(
                "TesseraQ reconstruction, " + q.grid(),
                List.of("block", "loss (nearest)", "loss (TesseraQ)", "reduction %", "seconds", "resumed"),
                rows);
        List<Integer> x = new ArrayList<>();
        for (int r = 1; r <= rounds; r++) x.add(r);
        final int n = rounds;
        series.values().removeIf(l -> l.size() != n); // a line needs a value at every round of the x axis
        return new Comparison(t, Chart.lines("block loss per PAR round", "round", "mean training loss", x, series));
    }
}
