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
      keys[i] = Torch.zeros(dtype, device, batch, c.numKvHeads(), capacity, c.headDim()).escape();
      values[i] = Torch.zeros(dtype, device, batch, c.numKvHeads(), capacity, c.headDim()).escape();
    }
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
