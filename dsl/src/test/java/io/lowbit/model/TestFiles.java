package io.lowbit.model;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import io.lowbit.torch.Tensor;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import org.junit.jupiter.api.function.Executable;

/** Plain-Java helpers for building and inspecting safetensors files in tests, independent of the code under test. */
final class TestFiles {
    private TestFiles() {}

    /** A file of: header length (u64, little-endian), the header text as UTF-8, then data. */
    static Path write(Path file, String headerJson, byte[] data) throws IOException {
        return write(file, headerJson.getBytes(UTF_8), data);
    }

    static Path write(Path file, byte[] header, byte[] data) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(8 + header.length + data.length).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(header.length).put(header).put(data);
        Files.write(file, b.array());
        return file;
    }

    /** Little-endian bytes of values, as safetensors stores them. */
    static byte[] f32(float... values) {
        ByteBuffer b = ByteBuffer.allocate(4 * values.length).order(ByteOrder.LITTLE_ENDIAN);
        for (float v : values) b.putFloat(v);
        return b.array();
    }

    /** bfloat16 is the upper half of a float32's bits. */
    static byte[] bf16(float... values) {
        ByteBuffer b = ByteBuffer.allocate(2 * values.length).order(ByteOrder.LITTLE_ENDIAN);
        for (float v : values) b.putShort((short) (Float.floatToRawIntBits(v) >>> 16));
        return b.array();
    }

    static byte[] i64(long... values) {
        ByteBuffer b = ByteBuffer.allocate(8 * values.length).order(ByteOrder.LITTLE_ENDIAN);
        for (long v : values) b.putLong(v);
        return b.array();
    }

    static byte[] concat(byte[]... parts) {
        int n = 0;
        for (byte[] p : parts) n += p.length;
        byte[] out = new byte[n];
        int at = 0;
        for (byte[] p : parts) {
            System.arraycopy(p, 0, out, at, p.length);
            at += p.length;
        }
        return out;
    }

    /** The tensor's elements in its own dtype, row-major. */
    static byte[] raw(Tensor t) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment m = arena.allocate(Math.max(1, t.byteSize()), 8).asSlice(0, t.byteSize());
            t.copyRawTo(m);
            return m.toArray(ValueLayout.JAVA_BYTE);
        }
    }

    /** N, read straight from the file's first 8 bytes. */
    static long headerLength(Path file) throws IOException {
        byte[] first = Arrays.copyOf(Files.readAllBytes(file), 8);
        return ByteBuffer.wrap(first).order(ByteOrder.LITTLE_ENDIAN).getLong();
    }

    /** The header parsed by gson on its own. */
    static JsonObject header(Path file) throws IOException {
        byte[] all = Files.readAllBytes(file);
        int n = (int) headerLength(file);
        return JsonParser.parseString(new String(all, 8, n, UTF_8)).getAsJsonObject();
    }

    /** Runs {@code action}, expecting a CheckpointException that names the file and every fragment. */
    static CheckpointException assertReported(Path file, Executable action, String... fragments) {
        CheckpointException e = assertThrows(CheckpointException.class, action);
        String m = e.getMessage();
        assertTrue(m.contains(file.toString()), "message should name " + file + ": " + m);
        for (String f : fragments) assertTrue(m.contains(f), "message should mention \"" + f + "\": " + m);
        return e;
    }
}
