package io.lowbit.model;

import io.lowbit.model.SafetensorsHeader.Entry;
import io.lowbit.torch.Tensor;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Writes one safetensors file tensor by tensor, so a caller never needs more than one tensor in
 * memory. The header comes first in the file but is known only at the end; so data is written
 * behind space reserved for it, and {@link #finish} fills that space (padding with spaces, which
 * JSON allows). Everything goes to a temporary file in the target folder, which {@link #commit}
 * renames into place, so the final name only ever holds a complete file.
 */
final class SafetensorsWriter implements AutoCloseable {
    /** Bytes handed to the file system per write call (ByteBuffers cannot exceed 2 GiB). */
    private static final long CHUNK = 1L << 30;

    private final Path folder;
    private final Map<String, String> metadata;
    private final Map<String, Entry> entries = new LinkedHashMap<>();
    private long reserved;
    private long dataBytes;
    private Path temp;
    private FileChannel channel;
    private boolean committed;

    SafetensorsWriter(Path folder, long reservedHeaderBytes, Map<String, String> metadata) throws IOException {
        this.folder = folder;
        this.metadata = Map.copyOf(metadata);
        this.reserved = SafetensorsHeader.roundUp8(reservedHeaderBytes);
        this.temp = tempFileIn(folder, ".safetensors.tmp");
        this.channel = FileChannel.open(temp, StandardOpenOption.READ, StandardOpenOption.WRITE);
    }

    /** Tensors appended so far. */
    int count() {
        return entries.size();
    }

    /** Data bytes appended so far. */
    long dataBytes() {
        return dataBytes;
    }

    /** Names appended so far, in order. */
    List<String> names() {
        return new ArrayList<>(entries.keySet());
    }

    /** Appends the tensor's raw bytes, in its own dtype, after those of the tensors before it. */
    void append(String name, Tensor t) throws IOException {
        if (name.equals(SafetensorsHeader.METADATA))
            throw new IllegalArgumentException(
                    "'" + SafetensorsHeader.METADATA + "' is reserved and cannot name a tensor");
        if (entries.containsKey(name)) throw new IllegalArgumentException("tensor '" + name + "' is written twice");
        Safetensors.Info info = new Safetensors.Info(name, t.dtype(), t.shape());
        long bytes = info.byteSize();
        // Staged in native memory and written with write(2), not copied into a mapping of the output:
        // a full disk then surfaces as an IOException instead of a SIGBUS that kills the JVM.
        try (Arena staging = Arena.ofConfined()) {
            MemorySegment buffer = staging.allocate(Math.max(bytes, 1), 8).asSlice(0, bytes);
            t.copyRawTo(buffer);
            long at = 8 + reserved + dataBytes;
            for (long done = 0; done < bytes; done += CHUNK)
                writeFully(buffer.asSlice(done, Math.min(CHUNK, bytes - done)).asByteBuffer(), at + done);
        }
        entries.put(name, new Entry(info, dataBytes, dataBytes + bytes));
        dataBytes += bytes;
    }

    /**
     * Writes the header in front of the data, listing the tensors in {@code headerOrder} (null: the
     * order they were appended), and syncs the file to disk.
     */
    void finish(List<String> headerOrder) throws IOException {
        List<Entry> listed = headerOrder == null
                ? List.copyOf(entries.values())
                : headerOrder.stream().map(entries::get).toList();
        byte[] header = SafetensorsHeader.encode(metadata, listed, reserved);
        if (header.length > reserved) relocateData(header.length);
        ByteBuffer length =
                ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(0, header.length);
        writeFully(length, 0);
        writeFully(ByteBuffer.wrap(header), 8);
        channel.force(true);
        channel.close();
    }

    /** Renames the finished file to {@code target} in one step, replacing what was there. */
    void commit(Path target) throws IOException {
        Files.move(temp, target, StandardCopyOption.ATOMIC_MOVE);
        committed = true;
    }

    /**
     * Deletes the temporary file unless it was committed. Best effort: this runs while another
     * exception is on its way out, which must not be masked, and a leftover hidden .tmp file is harmless.
     */
    @Override
    public void close() {
        try {
            if (channel.isOpen()) channel.close();
            if (!committed) Files.deleteIfExists(temp);
        } catch (IOException ignored) {
            // see above
        }
    }

    /**
     * The header outgrew the space reserved for it: copy the data into a new file behind a larger
     * gap. A full copy, but writers reserve generously, so this is rare.
     */
    private void relocateData(long headerBytes) throws IOException {
        Path moved = tempFileIn(folder, ".safetensors.tmp");
        FileChannel to = FileChannel.open(moved, StandardOpenOption.READ, StandardOpenOption.WRITE);
        try {
            to.position(8 + headerBytes);
            for (long done = 0; done < dataBytes; )
                done += channel.transferTo(8 + reserved + done, dataBytes - done, to);
        } catch (IOException e) {
            to.close();
            Files.deleteIfExists(moved);
            throw e;
        }
        channel.close();
        Files.deleteIfExists(temp);
        channel = to;
        temp = moved;
        reserved = headerBytes;
    }

    private void writeFully(ByteBuffer bytes, long position) throws IOException {
        while (bytes.hasRemaining()) position += channel.write(bytes, position);
    }

    /** A new hidden temporary file in {@code folder}, so that renaming it into place is atomic. */
    static Path tempFileIn(Path folder, String suffix) throws IOException {
        // createTempFile alone makes owner-only files; a checkpoint should get the usual permissions (umask applies)
        try {
            return Files.createTempFile(
                    folder,
                    ".lowbit-",
                    suffix,
                    PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-rw-rw-")));
        } catch (UnsupportedOperationException e) {
            return Files.createTempFile(folder, ".lowbit-", suffix);
        }
    }
}
