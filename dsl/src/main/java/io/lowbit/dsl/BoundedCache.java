package io.lowbit.dsl;

import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;
import java.util.function.Function;
import java.util.function.IntSupplier;
import java.util.function.LongSupplier;
import java.util.function.ToLongFunction;

/**
 * A least-recently-used cache bounded by entries and by bytes; an evicted value is freed. The newest
 * entry always stays, even alone over the byte limit: the work that asked for it is about to use it.
 * Values handed out earlier and evicted since are freed too; using one then fails as a closed tensor.
 */
final class BoundedCache<V> {
    private final IntSupplier maxEntries;
    private final LongSupplier maxBytes;
    private final ToLongFunction<V> bytes;
    private final Consumer<V> free;
    private final LinkedHashMap<String, V> map = new LinkedHashMap<>(16, 0.75f, true); // access order
    private final Map<String, Long> sizes = new LinkedHashMap<>();
    private long total;

    /** Limits are read on every put, so that {@link Caches#limit} applies to caches already made. */
    BoundedCache(IntSupplier maxEntries, LongSupplier maxBytes, ToLongFunction<V> bytes, Consumer<V> free) {
        this.maxEntries = maxEntries;
        this.maxBytes = maxBytes;
        this.bytes = bytes;
        this.free = free;
    }

    /** The value, which becomes the most recently used; null when absent. */
    synchronized V get(String key) {
        return map.get(key);
    }

    /** The cached value, or {@code compute}'s, kept as the most recent (older entries may be evicted). */
    synchronized V computeIfAbsent(String key, Function<String, V> compute) {
        V v = map.get(key);
        if (v != null) return v;
        v = compute.apply(key);
        put(key, v);
        return v;
    }

    /** Keeps {@code value} as the most recent under {@code key}; a value it replaces stays its caller's to free. */
    synchronized void put(String key, V value) {
        put(key, value, bytes.applyAsLong(value));
    }

    /** {@link #put(String, Object)} with the value's size given (when only the caller can measure it). */
    synchronized void put(String key, V value, long size) {
        Long old = sizes.remove(key);
        if (old != null) total -= old;
        map.put(key, value);
        sizes.put(key, size);
        total += size;
        int entries = maxEntries.getAsInt();
        long limit = maxBytes.getAsLong();
        Iterator<Map.Entry<String, V>> eldest = map.entrySet().iterator();
        while (map.size() > 1 && (map.size() > entries || total > limit)) {
            Map.Entry<String, V> e = eldest.next();
            if (e.getKey().equals(key)) break; // only the newest is left to evict
            total -= sizes.remove(e.getKey());
            eldest.remove();
            free.accept(e.getValue());
        }
    }

    synchronized int size() {
        return map.size();
    }

    synchronized long bytes() {
        return total;
    }

    synchronized List<V> values() {
        return new ArrayList<>(map.values());
    }

    /** Frees every value and forgets them. */
    synchronized void clear() {
        List<V> all = new ArrayList<>(map.values());
        map.clear();
        sizes.clear();
        total = 0;
        all.forEach(free);
    }
}
