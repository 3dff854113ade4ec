package io.lowbit.model;

import static io.lowbit.model.TestFiles.bf16;
import static io.lowbit.model.TestFiles.concat;
import static io.lowbit.model.TestFiles.f32;
import static io.lowbit.model.TestFiles.i64;
import static io.lowbit.model.TestFiles.raw;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import io.lowbit.torch.DType;
import io.lowbit.torch.Device;
import io.lowbit.torch.Scope;
import io.lowbit.torch.Tensor;
import io.lowbit.torch.Torch;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Safetensors files read as the format defines them, and written so that they read back bit for bit. */
class SafetensorsFormatTest {
    @TempDir
    Path dir;

    // exactly representable in bf16 except 0.1, which shows that loading keeps the stored bits as they are
    private static final float[] BF16_VALUES = {1f, -2.5f, 0.15625f, 256f, 0.1f};

    /**
     * Seven tensors in a header written by hand, padded so the data starts one byte past a multiple of
     * 8: every multi-byte tensor then sits misaligned in the file, as writers that do not pad leave them.
     */
    private Path handBuiltFile() throws IOException {
        String header = """
        {"__metadata__":{"format":"pt","source":"hand"},
         "weight":{"dtype":"F32","shape":[2,3],"data_offsets":[0,24]},
         "scale":{"dtype":"BF16","shape":[5],"data_offsets":[24,34]},
         "half":{"dtype":"F16","shape":[2],"data_offsets":[34,38]},
         "ids":{"dtype":"I64","shape":[3],"data_offsets":[38,62]},
         "mask":{"dtype":"BOOL","shape":[3],"data_offsets":[62,65]},
         "pi":{"dtype":"F64","shape":[],"data_offsets":[65,73]},
         "empty":{"dtype":"F32","shape":[0,4],"data_offsets":[73,73]}}""";
        byte[] half = {0x00, 0x3C, 0x00, (byte) 0xC1}; // IEEE binary16: 0x3C00 is 1.0, 0xC100 is -2.5
        byte[] pi = ByteBuffer.allocate(8)
                .order(ByteOrder.LITTLE_ENDIAN)
                .putDouble(Math.PI)
                .array();
        byte[] data = concat(
                f32(1, 2, 3, -4, 0.5f, 1e-3f),
                bf16(BF16_VALUES),
                half,
                i64(Long.MIN_VALUE, -1, 1L << 40),
                new byte[] {1, 0, 1},
                pi);
        assertEquals(73, data.length);
        while ((8 + header.getBytes(java.nio.charset.StandardCharsets.UTF_8).length) % 8 != 1) header += " ";
        return TestFiles.write(dir.resolve("hand.safetensors"), header, data);
    }

    @Test
    void aHandBuiltFileLoadsToItsValuesDtypesAndShapes() throws IOException {
        try (Safetensors file = Safetensors.open(handBuiltFile());
                Scope scope = Scope.open()) {
            assertEquals(
                    List.of("weight", "scale", "half", "ids", "mask", "pi", "empty"), file.names(), "header order");
            assertEquals(Map.of("format", "pt", "source", "hand"), file.metadata());
            assertEquals(new Safetensors.Info("weight", DType.F32, new long[] {2, 3}), file.info("weight"));
            assertEquals(new Safetensors.Info("pi", DType.F64, new long[0]), file.info("pi"));

            Tensor weight = file.load("weight", Device.CPU);
            assertEquals(DType.F32, weight.dtype());
            assertArrayEquals(new long[] {2, 3}, weight.shape());
            assertArrayEquals(new float[] {1, 2, 3, -4, 0.5f, 1e-3f}, weight.toFloatArray());

            Tensor scale = file.load("scale", Device.CPU);
            assertEquals(DType.BF16, scale.dtype());
            float[] expected = new float[BF16_VALUES.length];
            for (int i = 0; i < expected.length; i++)
                expected[i] = Float.intBitsToFloat(Float.floatToRawIntBits(BF16_VALUES[i]) & 0xFFFF0000);
            assertArrayEquals(expected, scale.toFloatArray());

            Tensor half = file.load("half", Device.CPU);
            assertEquals(DType.F16, half.dtype());
            assertArrayEquals(new float[] {1f, -2.5f}, half.toFloatArray());

            Tensor ids = file.load("ids", Device.CPU);
            assertEquals(DType.I64, ids.dtype());
            assertArrayEquals(new long[] {Long.MIN_VALUE, -1, 1L << 40}, ids.toLongArray());

            assertArrayEquals(
                    new boolean[] {true, false, true},
                    file.load("mask", Device.CPU).toBooleanArray());

            Tensor pi = file.load("pi", Device.CPU);
            assertEquals(0, pi.dim());
            assertEquals(Math.PI, pi.item());

            Tensor empty = file.load("empty", Device.CPU);
            assertArrayEquals(new long[] {0, 4}, empty.shape());
            assertEquals(0, empty.numel());
        }
    }

    /** One tensor of each dtype, from values whose bytes must survive unchanged. */
    private static LinkedHashMap<String, Tensor> everyDtype() {
        Torch.manualSeed(11);
        LinkedHashMap<String, Tensor> t = new LinkedHashMap<>();
        t.put("f32", Torch.randn(DType.F32, 3, 5));
        t.put("bf16", Torch.randn(DType.F32, 7).to(DType.BF16)); // 14 bytes: what follows is unaligned unless reordered
        t.put("f16", Torch.randn(DType.F32, 2, 3).to(DType.F16));
        t.put("i64", Torch.tensor(new long[] {Long.MAX_VALUE, Long.MIN_VALUE, 0, 42}, 2, 2));
        t.put("u8", Torch.tensor(new byte[] {0, 1, (byte) 255}, DType.U8, 3));
        t.put("f64", Torch.tensor(new double[] {Math.E, -0.0, Double.MIN_VALUE}, 3));
        t.put("i32", Torch.tensor(new int[] {Integer.MIN_VALUE, 7}, 2));
        t.put("i16", Torch.tensor(new int[] {-300, 300, 5}, 3).to(DType.I16));
        t.put("i8", Torch.tensor(new byte[] {-128, 127}, DType.I8, 2));
        t.put("bool", Torch.tensor(new boolean[] {true, false, false, true}, 2, 2));
        t.put("empty", Torch.zeros(DType.F32, 0, 3));
        return t;
    }

    @Test
    void writeThenReadGivesIdenticalBytesDtypesAndShapes() {
        Path path = dir.resolve("round.safetensors");
        Device device = Device.defaultDevice();
        try (Scope scope = Scope.open()) {
            LinkedHashMap<String, Tensor> tensors = everyDtype();
            Safetensors.write(path, tensors, Map.of("format", "pt"));
            try (Safetensors file = Safetensors.open(path)) {
                assertEquals(List.copyOf(tensors.keySet()), file.names(), "the header keeps the caller's order");
                assertEquals(Map.of("format", "pt"), file.metadata());
                for (Map.Entry<String, Tensor> e : tensors.entrySet()) {
                    Tensor back = file.load(e.getKey(), device);
                    assertEquals(e.getValue().dtype(), back.dtype(), e.getKey());
                    assertArrayEquals(e.getValue().shape(), back.shape(), e.getKey());
                    assertEquals(device, back.device(), e.getKey());
                    assertArrayEquals(raw(e.getValue()), raw(back), e.getKey());
                }
            }
        }
    }

    @Test
    void theWrittenHeaderIsPlainJsonPaddedToEightBytesAndEveryTensorIsAligned() throws IOException {
        Path path = dir.resolve("header.safetensors");
        try (Scope scope = Scope.open()) {
            LinkedHashMap<String, Tensor> tensors = everyDtype();
            tensors.put("known", Torch.tensor(new float[] {1.5f, -2f, 3.25f}, 3));
            Safetensors.write(path, tensors, Map.of("format", "pt", "note", "ünïcode"));

            long n = TestFiles.headerLength(path);
            assertEquals(0, n % 8, "header length " + n);
            byte[] all = Files.readAllBytes(path);
            int close = 8 + (int) n - 1;
            while (all[close] != '}') close--;
            for (int i = close + 1; i < 8 + n; i++) assertEquals(' ', all[i], "padding is spaces");
            assertTrue(8 + n - 1 - close < 8, "padded only up to the next multiple of 8");

            JsonObject header = TestFiles.header(path);
            List<String> keys = new ArrayList<>(header.keySet());
            assertEquals("__metadata__", keys.getFirst());
            assertEquals(
                    "ünïcode",
                    header.getAsJsonObject("__metadata__").get("note").getAsString());
            assertEquals(List.copyOf(tensors.keySet()), keys.subList(1, keys.size()));

            long total = 0;
            for (Map.Entry<String, Tensor> e : tensors.entrySet()) {
                JsonObject entry = header.getAsJsonObject(e.getKey());
                assertEquals(
                        SafetensorsHeader.nameOf(e.getValue().dtype()),
                        entry.get("dtype").getAsString());
                long[] shape = entry.getAsJsonArray("shape").asList().stream()
                        .mapToLong(JsonElement::getAsLong)
                        .toArray();
                assertArrayEquals(e.getValue().shape(), shape);
                long begin = entry.getAsJsonArray("data_offsets").get(0).getAsLong();
                long end = entry.getAsJsonArray("data_offsets").get(1).getAsLong();
                assertEquals(e.getValue().byteSize(), end - begin, e.getKey());
                assertEquals(0, (8 + n + begin) % e.getValue().dtype().bytes, e.getKey() + " starts aligned");
                assertArrayEquals(
                        raw(e.getValue()), Arrays.copyOfRange(all, (int) (8 + n + begin), (int) (8 + n + end)));
                total += end - begin;
            }
            assertEquals(8 + n + total, all.length, "no gaps and nothing after the data");

            JsonObject known = header.getAsJsonObject("known");
            int begin = known.getAsJsonArray("data_offsets").get(0).getAsInt();
            assertArrayEquals(
                    f32(1.5f, -2f, 3.25f),
                    Arrays.copyOfRange(all, (int) (8 + n + begin), (int) (8 + n + begin + 12)),
                    "float32 little-endian, as Java's ByteBuffer writes it");
        }
    }

    @Test
    void withoutMetadataTheHeaderHasNoMetadataEntry() throws IOException {
        Path path = dir.resolve("plain.safetensors");
        try (Tensor t = Torch.ones(2)) {
            LinkedHashMap<String, Tensor> one = new LinkedHashMap<>();
            one.put("t", t);
            Safetensors.write(path, one, Map.of());
        }
        assertEquals(List.of("t"), List.copyOf(TestFiles.header(path).keySet()));
        try (Safetensors file = Safetensors.open(path)) {
            assertTrue(file.metadata().isEmpty());
        }
    }

    @Test
    void aNonContiguousTensorIsWrittenRowMajorAsItsShapeSays() {
        Path path = dir.resolve("transposed.safetensors");
        try (Scope scope = Scope.open()) {
            Tensor x = Torch.tensor(new float[] {1, 2, 3, 4, 5, 6}, 2, 3);
            LinkedHashMap<String, Tensor> m = new LinkedHashMap<>();
            m.put("xt", x.t());
            Safetensors.write(path, m, Map.of());
            try (Safetensors file = Safetensors.open(path)) {
                Tensor back = file.load("xt", Device.CPU);
                assertArrayEquals(new long[] {3, 2}, back.shape());
                assertArrayEquals(new float[] {1, 4, 2, 5, 3, 6}, back.toFloatArray());
            }
        }
    }

    @Test
    void aFailedWriteLeavesTheEarlierFileAndNoTemporaryFiles() throws IOException {
        Path path = dir.resolve("model.safetensors");
        try (Scope scope = Scope.open()) {
            LinkedHashMap<String, Tensor> good = new LinkedHashMap<>();
            good.put("a", Torch.ones(4));
            Safetensors.write(path, good, Map.of());
            byte[] before = Files.readAllBytes(path);

            Tensor closed = Torch.ones(4);
            LinkedHashMap<String, Tensor> bad = new LinkedHashMap<>();
            bad.put("a", Torch.zeros(4));
            bad.put("b", closed);
            closed.close();
            assertThrows(IllegalStateException.class, () -> Safetensors.write(path, bad, Map.of()));

            assertArrayEquals(before, Files.readAllBytes(path));
            try (Stream<Path> files = Files.list(dir)) {
                assertEquals(List.of(path), files.toList(), "no temporary file left behind");
            }
        }
    }

    @Test
    void writingReplacesAnExistingFile() throws IOException {
        Path path = dir.resolve("model.safetensors");
        try (Scope scope = Scope.open()) {
            LinkedHashMap<String, Tensor> m = new LinkedHashMap<>();
            m.put("a", Torch.ones(4));
            Safetensors.write(path, m, Map.of());
            m.put("a", Torch.full(7, 2));
            Safetensors.write(path, m, Map.of());
            try (Safetensors file = Safetensors.open(path)) {
                assertArrayEquals(new float[] {7, 7}, file.load("a", Device.CPU).toFloatArray());
            }
        }
    }

    @Test
    void aTensorNamedLikeTheMetadataEntryIsRefused() {
        try (Tensor t = Torch.ones(1)) {
            LinkedHashMap<String, Tensor> m = new LinkedHashMap<>();
            m.put("__metadata__", t);
            assertThrows(
                    IllegalArgumentException.class, () -> Safetensors.write(dir.resolve("x.safetensors"), m, Map.of()));
            assertFalse(Files.exists(dir.resolve("x.safetensors")));
        }
    }

    @Test
    void tensorsLoadedInAScopeAreFreedWithItAndOutliveTheFile() throws IOException {
        Path path = handBuiltFile();
        long baseline = Torch.liveTensors();
        Tensor survivor;
        try (Safetensors file = Safetensors.open(path)) {
            try (Scope scope = Scope.open()) {
                for (String name : file.names()) file.load(name, Device.CPU);
                assertEquals(baseline + file.names().size(), Torch.liveTensors());
            }
            assertEquals(baseline, Torch.liveTensors(), "closing the scope freed every loaded tensor");
            survivor = file.load("weight", Device.CPU);
        }
        // the file is unmapped now; the tensor is a copy and stays readable
        assertArrayEquals(new float[] {1, 2, 3, -4, 0.5f, 1e-3f}, survivor.toFloatArray());
        survivor.close();
        assertEquals(baseline, Torch.liveTensors());
    }

    @Test
    void loadingAfterCloseIsAnError() throws IOException {
        Safetensors file = Safetensors.open(handBuiltFile());
        file.close();
        file.close(); // harmless
        assertThrows(IllegalStateException.class, () -> file.load("weight", Device.CPU));
    }
}
