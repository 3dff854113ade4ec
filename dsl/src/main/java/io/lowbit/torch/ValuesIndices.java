package io.lowbit.torch;

/** The (values, indices) pair returned by topk, sort, and max/min over a dimension. */
public record ValuesIndices(Tensor values, Tensor indices) implements AutoCloseable {
    static ValuesIndices of(Tensor[] outputs) {
        return new ValuesIndices(outputs[0], outputs[1]);
    }

    @Override
    public void close() {
        values.close();
        indices.close();
    }
}
