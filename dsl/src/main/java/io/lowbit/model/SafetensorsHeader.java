package io.lowbit.model;

import static java.nio.charset.StandardCharsets.UTF_8;

import com.google.gson.Strictness;
import com.google.gson.stream.JsonReader;
import com.google.gson.stream.JsonToken;
import com.google.gson.stream.JsonWriter;
import io.lowbit.torch.DType;
import java.io.IOException;
import java.io.StringReader;
import java.io.StringWriter;
import java.io.UncheckedIOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.charset.CharacterCodingException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The header of a safetensors file: an unsigned 64-bit little-endian length N, then N bytes of
 * UTF-8 JSON mapping each tensor name to {"dtype", "shape", "data_offsets": [begin, end]} (offsets
 * relative to the first byte after the header), plus an optional "__metadata__" map of strings.
 *
 * <p>Reading checks every number before anything uses it, because the offsets become addresses in
 * a memory-mapped file: a lying header must end in a {@link CheckpointException}, never in a read
 * outside the file.
 */
final class SafetensorsHeader {
    static final String METADATA = "__metadata__";

    /** Larger headers are refused before being read (huggingface/safetensors, src/tensor.rs, has the same bound). */
    static final long MAX_HEADER_BYTES = 100_000_000L;

    static final ValueLayout.OfLong U64_LE = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    /** One tensor: what it is and where its bytes lie, relative to the start of the data region. */
    record Entry(Safetensors.Info info, long begin, long end) {}

    /** Tensors in header order. */
    final Map<String, Entry> entries;

    final Map<String, String> metadata;
    /** File offset of the data region: 8 + N. */
    final long dataStart;

    private SafetensorsHeader(Map<String, Entry> entries, Map<String, String> metadata, long dataStart) {
        this.entries = Collections.unmodifiableMap(entries);
        this.metadata = Collections.unmodifiableMap(metadata);
        this.dataStart = dataStart;
    }

    // ---------------------------------------------------------------- dtype names

    /** The DType of a safetensors dtype name, or null for one we do not support (F8_E4M3, U32, ...). */
    static DType dtypeOf(String name) {
        return switch (name) {
            case "BF16" -> DType.BF16;
            case "F16" -> DType.F16;
            case "F32" -> DType.F32;
            case "F64" -> DType.F64;
            case "I64" -> DType.I64;
            case "I32" -> DType.I32;
            case "I16" -> DType.I16;
            case "I8" -> DType.I8;
            case "U8" -> DType.U8;
            case "BOOL" -> DType.BOOL;
            default -> null;
        };
    }

    static String nameOf(DType dtype) {
        return switch (dtype) {
            case BF16 -> "BF16";
            case F16 -> "F16";
            case F32 -> "F32";
            case F64 -> "F64";
            case I64 -> "I64";
            case I32 -> "I32";
            case I16 -> "I16";
            case I8 -> "I8";
            case U8 -> "U8";
            case BOOL -> "BOOL";
        };
    }

    // ---------------------------------------------------------------- reading

    /** Parses and checks the header of {@code file}, whose whole content is {@code mapped}. */
    static SafetensorsHeader read(Path file, MemorySegment mapped) {
        long size = mapped.byteSize();
        if (size < 8) throw bad(file, "header length", "is missing: the file has " + size + " bytes, fewer than 8");
        long n = mapped.get(U64_LE, 0);
        // n is unsigned: a negative long is a length beyond 2^63, surely larger than the file
        if (n < 0 || n > size - 8)
            throw bad(
                    file,
                    "header length",
                    Long.toUnsignedString(n) + " is larger than the " + (size - 8)
                            + " bytes that follow it (is the file truncated?)");
        if (n > MAX_HEADER_BYTES)
            throw bad(file, "header length", n + " is beyond the " + MAX_HEADER_BYTES + " bytes a header may take");
        String json;
        try {
            json = UTF_8.newDecoder()
                    .decode(mapped.asSlice(8, n).asByteBuffer())
                    .toString();
        } catch (CharacterCodingException e) {
            throw new CheckpointException(file + ": header is not valid UTF-8", e);
        }
        return new Parser(file, json, size - 8 - n).parse(8 + n);
    }

    static CheckpointException bad(Path file, String field, String problem) {
        return new CheckpointException(file + ": " + field + " " + problem);
    }

    /** gson's description of a JSON error, without its advice to parse leniently (we never do). */
    static String jsonProblem(Exception e) {
        String m = String.valueOf(e.getMessage());
        return m.replace("Use JsonReader.setStrictness(Strictness.LENIENT) to accept malformed JSON", "malformed JSON");
    }

    /** Streams through the JSON so that each problem can be reported with the tensor and field at fault. */
    private static final class Parser {
        private final Path file;
        private final JsonReader in;
        private final long dataLength;
        /** What is being read now, for reports of malformed JSON. */
        private String at = "header";

        Parser(Path file, String json, long dataLength) {
            this.file = file;
            this.dataLength = dataLength;
            this.in = new JsonReader(new StringReader(json));
            in.setStrictness(Strictness.STRICT);
        }

        SafetensorsHeader parse(long dataStart) {
            Map<String, Entry> entries = new LinkedHashMap<>();
            Map<String, String> metadata = null;
            try {
                in.beginObject();
                while (in.hasNext()) {
                    String name = in.nextName();
                    if (name.equals(METADATA)) {
                        if (metadata != null) throw bad(file, METADATA, "appears twice");
                        metadata = readMetadata();
                    } else {
                        if (entries.containsKey(name)) throw bad(file, "tensor '" + name + "'", "appears twice");
                        entries.put(name, readEntry(name));
                    }
                }
                in.endObject();
                at = "header";
                if (in.peek() != JsonToken.END_DOCUMENT) throw bad(file, "header", "has more after its JSON object");
            } catch (IOException | IllegalStateException | NumberFormatException e) {
                // gson reports syntax errors as IOExceptions, wrong kinds of values as IllegalStateExceptions
                throw new CheckpointException(
                        file + ": " + at + " is not valid safetensors JSON: " + jsonProblem(e), e);
            }
            checkDisjoint(entries.values());
            return new SafetensorsHeader(entries, metadata == null ? new LinkedHashMap<>() : metadata, dataStart);
        }

        private Map<String, String> readMetadata() throws IOException {
            at = METADATA;
            Map<String, String> metadata = new LinkedHashMap<>();
            in.beginObject();
            while (in.hasNext()) {
                String key = in.nextName();
                at = METADATA + " '" + key + "'";
                if (in.peek() != JsonToken.STRING) throw bad(file, at, "must be a string, not " + in.peek());
                metadata.put(key, in.nextString());
            }
            in.endObject();
            return metadata;
        }

        private Entry readEntry(String name) throws IOException {
            String tensor = "tensor '" + name + "'";
            at = tensor;
            String dtypeName = null;
            long[] shape = null, offsets = null;
            in.beginObject();
            while (in.hasNext()) {
                String field = in.nextName();
                at = tensor + " " + field;
                switch (field) {
                    case "dtype" -> dtypeName = in.nextString();
                    case "shape" -> shape = readLongs();
                    case "data_offsets" -> offsets = readLongs();
                    default -> in.skipValue(); // other fields are tolerated, as JSON readers usually do
                }
            }
            in.endObject();

            if (dtypeName == null) throw bad(file, tensor + " dtype", "is missing");
            DType dtype = dtypeOf(dtypeName);
            if (dtype == null)
                throw bad(
                        file,
                        tensor + " dtype",
                        "'" + dtypeName + "' is not supported (supported: BF16, F16, F32, F64, "
                                + "I64, I32, I16, I8, U8, BOOL)");
            if (shape == null) throw bad(file, tensor + " shape", "is missing");
            long numel = 1;
            for (long d : shape) {
                if (d < 0) throw bad(file, tensor + " shape", Arrays.toString(shape) + " has a negative dimension");
                try {
                    numel = Math.multiplyExact(numel, d);
                } catch (ArithmeticException e) {
                    throw bad(file, tensor + " shape", Arrays.toString(shape) + " has too many elements to count");
                }
            }
            if (offsets == null) throw bad(file, tensor + " data_offsets", "is missing");
            String range = Arrays.toString(offsets);
            if (offsets.length != 2) throw bad(file, tensor + " data_offsets", range + " is not a pair [begin, end]");
            long begin = offsets[0], end = offsets[1];
            if (begin < 0 || end < begin) throw bad(file, tensor + " data_offsets", range + " is not a range");
            if (end > dataLength)
                throw bad(
                        file,
                        tensor + " data_offsets",
                        range + " reach past the end of the data, which has " + dataLength
                                + " bytes (is the file truncated?)");
            long needed = numel > Long.MAX_VALUE / dtype.bytes ? Long.MAX_VALUE : numel * dtype.bytes;
            if (end - begin != needed)
                throw bad(
                        file,
                        tensor + " data_offsets",
                        range + " hold " + (end - begin) + " bytes, but shape " + Arrays.toString(shape) + " of "
                                + dtypeName + " takes " + needed);
            return new Entry(new Safetensors.Info(name, dtype, shape), begin, end);
        }

        private long[] readLongs() throws IOException {
            List<Long> values = new ArrayList<>();
            in.beginArray();
            while (in.hasNext()) values.add(in.nextLong());
            in.endArray();
            return values.stream().mapToLong(Long::longValue).toArray();
        }

        /** Two tensors sharing bytes would alias each other; the format gives every tensor its own range. */
        private void checkDisjoint(Iterable<Entry> entries) {
            List<Entry> byBegin = new ArrayList<>();
            for (Entry e : entries) if (e.end() > e.begin()) byBegin.add(e);
            byBegin.sort(Comparator.comparingLong(Entry::begin));
            for (int i = 1; i < byBegin.size(); i++) {
                Entry a = byBegin.get(i - 1), b = byBegin.get(i);
                if (b.begin() < a.end())
                    throw bad(
                            file,
                            "tensor '" + b.info().name() + "' data_offsets",
                            "[" + b.begin() + ", " + b.end() + "] overlap those of tensor '"
                                    + a.info().name() + "' [" + a.begin() + ", " + a.end() + "]");
            }
        }
    }

    // ---------------------------------------------------------------- writing

    /**
     * The header bytes for {@code entries} (listed in this order), padded with spaces to a multiple
     * of 8 bytes, as huggingface/safetensors writes them, so the data region starts 8-byte aligned;
     * and to at least {@code minLength} bytes, which lets a writer fill space it reserved before
     * knowing the header.
     */
    static byte[] encode(Map<String, String> metadata, List<Entry> entries, long minLength) {
        StringWriter text = new StringWriter();
        try (JsonWriter out = new JsonWriter(text)) {
            out.beginObject();
            if (!metadata.isEmpty()) {
                out.name(METADATA).beginObject();
                for (Map.Entry<String, String> m : metadata.entrySet())
                    out.name(m.getKey()).value(m.getValue());
                out.endObject();
            }
            for (Entry e : entries) {
                out.name(e.info().name()).beginObject();
                out.name("dtype").value(nameOf(e.info().dtype()));
                out.name("shape").beginArray();
                for (long d : e.info().shape()) out.value(d);
                out.endArray();
                out.name("data_offsets")
                        .beginArray()
                        .value(e.begin())
                        .value(e.end())
                        .endArray();
                out.endObject();
            }
            out.endObject();
        } catch (IOException e) {
            throw new UncheckedIOException(e); // a StringWriter does not fail
        }
        byte[] json = text.toString().getBytes(UTF_8);
        long length = Math.max(roundUp8(json.length), minLength);
        if (length > MAX_HEADER_BYTES)
            throw new IllegalArgumentException("a header of " + length + " bytes is too large");
        byte[] padded = Arrays.copyOf(json, (int) length);
        Arrays.fill(padded, json.length, padded.length, (byte) ' ');
        return padded;
    }

    static long roundUp8(long n) {
        return (n + 7) & ~7L;
    }
}
