package io.lowbit.dsl;

import io.lowbit.quant.QuantizedModel;
import java.util.ArrayList;
import java.util.List;

/** What quantization made: a row per quantized model. */
final class Summary {
    private Summary() {}

    /** Model, method, grid, bits both ways (the papers' and the storage cost), seconds. */
    static Table of(QuantizedModel... models) {
        List<List<Object>> rows = new ArrayList<>();
        for (QuantizedModel q : models)
            rows.add(List.of(
                    q.model().name(),
                    q.method().name(),
                    q.grid().toString(),
                    q.paperBits(),
                    q.storageBits(),
                    q.seconds()));
        List<String> columns = List.of("model", "method", "grid", "bits (papers)", "bits (storage)", "seconds");
        return Table.of("quantized", columns, rows);
    }
}
