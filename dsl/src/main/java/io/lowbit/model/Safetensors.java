package io.lowbit.model;

import io.lowbit.model.SafetensorsHeader.Entry;
import io.lowbit.torch.DType;
import io.lowbit.torch.Device;
import io.lowbit.torch.Tensor;
import io.lowbit.torch.Torch;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.SequencedMap;

/**
 * One Hugging Face safetensors file, memory-mapped: {@link #open} reads and checks only the header;
 * {@link #load} copies one tensor's bytes from the mapping straight into a libtorch tensor, so
 * nothing passes through the Java heap and untouched tensors are never read from disk.
 *
 * <pre>{@code
 * try (var file = Safetensors.open(Path.of("model.safetensors"));
 *      Tensor w = file.load("lm_head.weight", Device.CPU)) { ... }
 * }</pre>
 *
 * <p>Closing unmaps the file; tensors already loaded are copies and stay valid. The file must not be
 * shrunk while open ({@link #load} checks its size first, but cannot close that window entirely).
 * Loads may run on several threads; {@link #close} must not race them.
 */
public final class Safetensors implements AutoCloseable {

    /** A tensor's name, element type and shape, as its header describes it. */
    public record Info(String name, DType dtype, long[] shape) {
        public Info {
            shape = shape.clone();
        }

        @Override
        public long[] shape() {
            return shape.clone();
        }

        public long numel() {
            long n = 1;
            for (long d : shape) n *= d;
            return n;
        }

        /** Bytes the tensor takes in the file. */
        public long byteSize() {
            return numel() * dtype.bytes;
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof Info i && name.equals(i.name) && dtype == i.dtype && Arrays.equals(shape, i.shape);
        }

        @Override
        public int hashCode() {
            return 31 * (31 * name.hashCode() + dtype.hashCode()) + Arrays.hashCode(shape);
        }

        @Override
        public String toString() {
            return name + ": " + dtype + " " + Arrays.toString(shape);
        }
    }

    private final Path file;
    private final Arena arena;
    private final MemorySegment mapped;
    private final SafetensorsHeader header;
    private final List<String> names;

    private Safetensors(Path file, Arena arena, MemorySegment mapped, SafetensorsHeader header) {
        this.file = file;
        this.arena = arena;
        this.mapped = mapped;
        this.header = header;
        this.names = List.copyOf(header.entries.keySet());
    }

    /** Maps {@code file} and checks its header; throws {@link CheckpointException} for anything amiss. */
    public static Safetensors open(Path file) {
        if (!Files.exists(file)) throw new CheckpointException(file + ": no such file");
        if (!Files.isRegularFile(file)) throw new CheckpointException(file + ": is not a regular file");
        // shared, so that loads may run on any thread and close() may too
        Arena arena = Arena.ofShared();
        try (FileChannel channel = FileChannel.open(file, StandardOpenOption.READ)) {
            MemorySegment mapped = channel.map(FileChannel.MapMode.READ_ONLY, 0, channel.size(), arena);
            return new Safetensors(file, arena, mapped, SafetensorsHeader.read(file, mapped));
        } catch (IOException e) {
            arena.close();
            throw new CheckpointException(file + ": cannot be read: " + e.getMessage(), e);
        } catch (RuntimeException e) {
            arena.close();
            throw e;
        }
    }

    public Path file() {
        return file;
    }

    /** Tensor names in the order the header lists them. */
    public List<String> names() {
        return names;
    }

    public Info info(String name) {
        return entry(name).info();
    }

    /** The "__metadata__" strings (empty when the file has none), in header order. */
    public Map<String, String> metadata() {
        return header.metadata;
    }

    /**
     * A new tensor on {@code device} holding a copy of the named tensor. The caller owns it (or the
     * current {@link io.lowbit.torch.Scope} does).
     */
    public Tensor load(String name, Device device) {
        Entry e = entry(name);
        Info info = e.info();
        MemorySegment bytes = mapped().asSlice(header.dataStart + e.begin(), e.end() - e.begin());
        checkNotShrunk(name);
        if (bytes.address() % info.dtype().bytes == 0)
            return Torch.fromNative(bytes, info.dtype(), info.shape(), device);
        // Writers that do not pad (MLX, or ours when streaming) can leave a tensor misaligned for its
        // element type; libtorch expects aligned storage, so such tensors go through an aligned copy.
        try (Arena scratch = Arena.ofConfined()) {
            MemorySegment aligned =
                    scratch.allocate(bytes.byteSize(), info.dtype().bytes).copyFrom(bytes);
            return Torch.fromNative(aligned, info.dtype(), info.shape(), device);
        }
    }

    /** Unmaps the file. Closing twice is harmless. */
    @Override
    public synchronized void close() {
        if (arena.scope().isAlive()) arena.close();
    }

    /** Whether the file holds a tensor of this name. */
    boolean has(String name) {
        return header.entries.containsKey(name);
    }

    private Entry entry(String name) {
        Entry e = header.entries.get(name);
        if (e == null) throw new CheckpointException(file + ": tensor '" + name + "' is not in this file");
        return e;
    }

    private MemorySegment mapped() {
        if (!arena.scope().isAlive()) throw new IllegalStateException(file + " was closed");
        return mapped;
    }

    /** Reading a mapped page the file no longer has kills the process (SIGBUS) in native code. */
    private void checkNotShrunk(String name) {
        long now;
        try {
            now = Files.size(file);
        } catch (IOException e) {
            throw new CheckpointException(file + ": tensor '" + name + "' cannot be read: " + e.getMessage(), e);
        }
        if (now < mapped.byteSize())
            throw new CheckpointException(file + ": tensor '" + name + "' cannot be read: the file shrank from "
                    + mapped.byteSize() + " to " + now + " bytes since it was opened");
    }

    // ---------------------------------------------------------------- writing

    /**
     * Writes {@code tensors} (each in its own dtype, listed in the header in the map's order) and
     * {@code metadata} to {@code file}. The bytes go to a temporary file in the same folder, renamed
     * to {@code file} only once complete, so an interrupted write never leaves a partial file under
     * that name. The caller keeps ownership of the tensors.
     *
     * @throws UncheckedIOException when the file system fails (a full disk, say)
     */
    public static void write(Path file, SequencedMap<String, Tensor> tensors, Map<String, String> metadata) {
        // Data goes widest element type first (stable otherwise): since the header ends 8-byte aligned,
        // every tensor then starts at a multiple of its own element size, which zero-copy readers need.
        List<String> dataOrder = new ArrayList<>(tensors.keySet());
        dataOrder.sort(Comparator.comparingInt((String n) -> tensors.get(n).dtype().bytes)
                .reversed());

        // With every tensor at hand the header is known up front: reserve exactly its size.
        Map<String, Entry> planned = new HashMap<>();
        long offset = 0;
        for (String name : dataOrder) {
            Tensor t = tensors.get(name);
            planned.put(name, new Entry(new Info(name, t.dtype(), t.shape()), offset, offset + t.byteSize()));
            offset += t.byteSize();
        }
        List<String> headerOrder = List.copyOf(tensors.keySet());
        long headerBytes = SafetensorsHeader.encode(
                        metadata, headerOrder.stream().map(planned::get).toList(), 0)
                .length;

        Path folder = file.toAbsolutePath().getParent();
        try (SafetensorsWriter out = new SafetensorsWriter(folder, headerBytes, metadata)) {
            for (String name : dataOrder) out.append(name, tensors.get(name));
            out.finish(headerOrder);
            out.commit(file);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + file, e);
        }
    }
}
