package io.lowbit.model;

import io.lowbit.torch.DType;
import io.lowbit.torch.Device;
import io.lowbit.torch.Tensor;
import io.lowbit.torch.Torch;

/** Keys and values of every layer for up to {@code capacity} positions, written in place as generation goes. */
final class KvCache implements AutoCloseable {
    private final Tensor[] keys, values; // [B, kvHeads, capacity, headDim]
    private final long capacity;
    private long length;

    KvCache(Config c, long batch, long capacity, DType dtype, Device device) {
        this.capacity = capacity;
        keys = new Tensor[c.numLayers()];
        values = new Tensor[c.numLayers()];
        for (int i = 0; i < c.numLayers(); i++) {
            keys[i] = Torch.zeros(dtype, device, batch, c.numKvHeads(), capacity, c.headDim())
                    .escape();
            values[i] = Torch.zeros(dtype, device, batch, c.numKvHeads(), capacity, c.headDim())
                    .escape();
        }
    }

    /**
     * A cache of {@code batch} rows, each starting with the positions of {@code prefix} (a cache of
     * one row): how many continuations of one prompt share its keys and values.
     */
    KvCache(KvCache prefix, long batch, long capacity) {
        if (prefix.keys[0].size(0) != 1) throw new IllegalArgumentException("the prefix cache must have one row");
        this.capacity = capacity;
        keys = new Tensor[prefix.keys.length];
        values = new Tensor[prefix.values.length];
        for (int i = 0; i < keys.length; i++) {
            keys[i] = repeat(prefix.keys[i], prefix.length, batch, capacity);
            values[i] = repeat(prefix.values[i], prefix.length, batch, capacity);
        }
        length = prefix.length;
    }

    private static Tensor repeat(Tensor row, long length, long batch, long capacity) {
        Tensor out = Torch.zeros(row.dtype(), row.device(), batch, row.size(1), capacity, row.size(3))
                .escape();
        try (Tensor slot = out.narrow(2, 0, length);
                Tensor src = row.narrow(2, 0, length)) {
            slot.copyFrom(src); // copy_ broadcasts the one row to every row
        }
        return out;
    }

    long length() {
        return length;
    }

    /** Stores layer i's new keys [B, kv, T, d] after the cached ones; returns all of them. */
    Tensor keys(int layer, Tensor k) {
        return store(keys[layer], k);
    }

    Tensor values(int layer, Tensor v) {
        return store(values[layer], v);
    }

    private Tensor store(Tensor cache, Tensor x) {
        long t = x.size(2);
        if (length + t > capacity) throw new IllegalStateException("KV cache full: " + capacity + " positions");
        try (Tensor slot = cache.narrow(2, length, t)) {
            slot.copyFrom(x);
        }
        return cache.narrow(2, 0, length + t);
    }

    /** Called once per forward, after every layer stored its T new positions. */
    void advance(long t) {
        length += t;
    }

    @Override
    public void close() {
        for (Tensor t : keys) t.close();
        for (Tensor t : values) t.close();
    }
}
