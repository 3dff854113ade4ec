package io.lowbit.model;

import static io.lowbit.model.TestFiles.assertReported;
import static io.lowbit.model.TestFiles.f32;
import static java.nio.charset.StandardCharsets.UTF_8;

import io.lowbit.torch.Device;
import io.lowbit.torch.Scope;
import io.lowbit.torch.Tensor;
import io.lowbit.torch.Torch;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Every malformed file is a CheckpointException naming the file and what in it is wrong; none crashes the JVM. */
class SafetensorsErrorsTest {
    @TempDir
    Path dir;

    /** A file whose header is {@code json} and whose data is four float32s (16 bytes). */
    private Path withHeader(String json) throws IOException {
        return TestFiles.write(dir.resolve("bad.safetensors"), json, f32(1, 2, 3, 4));
    }

    @Test
    void aMissingFile() {
        Path missing = dir.resolve("nothing-here.safetensors");
        assertReported(missing, () -> Safetensors.open(missing), "no such file");
    }

    @Test
    void aFileShorterThanTheHeaderLength() throws IOException {
        Path file = Files.write(dir.resolve("short.safetensors"), new byte[] {1, 2, 3, 4, 5});
        assertReported(file, () -> Safetensors.open(file), "header length", "5 bytes");
    }

    @Test
    void anEmptyFile() throws IOException {
        Path file = Files.write(dir.resolve("empty.safetensors"), new byte[0]);
        assertReported(file, () -> Safetensors.open(file), "header length");
    }

    @Test
    void aHeaderLengthLargerThanTheFile() throws IOException {
        byte[] bytes = ByteBuffer.allocate(8 + 4)
                .order(ByteOrder.LITTLE_ENDIAN)
                .putLong(1000)
                .put("{}  ".getBytes(UTF_8))
                .array();
        Path file = Files.write(dir.resolve("long.safetensors"), bytes);
        assertReported(file, () -> Safetensors.open(file), "header length", "1000", "4 bytes");
    }

    @Test
    void aHeaderLengthBeyondTwoToTheSixtyThree() throws IOException {
        byte[] bytes = ByteBuffer.allocate(16)
                .order(ByteOrder.LITTLE_ENDIAN)
                .putLong(-1L)
                .array(); // 2^64 - 1 unsigned
        Path file = Files.write(dir.resolve("huge.safetensors"), bytes);
        assertReported(file, () -> Safetensors.open(file), "header length", "18446744073709551615");
    }

    @Test
    void aHeaderThatIsNotJson() throws IOException {
        Path file = withHeader("this is not json");
        assertReported(file, () -> Safetensors.open(file), "header", "not valid");
    }

    @Test
    void aHeaderCutOffInsideATensorEntry() throws IOException {
        Path file = withHeader("{\"w\":{\"dtype\":\"F32\",\"shape\":[2,2");
        assertReported(file, () -> Safetensors.open(file), "tensor 'w' shape", "not valid");
    }

    @Test
    void aHeaderThatIsAnArray() throws IOException {
        Path file = withHeader("[1, 2]");
        assertReported(file, () -> Safetensors.open(file), "header");
    }

    @Test
    void aHeaderWithTextAfterTheObject() throws IOException {
        Path file = withHeader("{} {}");
        assertReported(file, () -> Safetensors.open(file), "header");
    }

    @Test
    void aHeaderThatIsNotUtf8() throws IOException {
        Path file = TestFiles.write(dir.resolve("latin1.safetensors"), new byte[] {'{', (byte) 0xFF, '}'}, new byte[0]);
        assertReported(file, () -> Safetensors.open(file), "UTF-8");
    }

    @Test
    void anUnknownDtype() throws IOException {
        Path file = withHeader("{\"w\":{\"dtype\":\"F8_E4M3\",\"shape\":[16],\"data_offsets\":[0,16]}}");
        assertReported(file, () -> Safetensors.open(file), "tensor 'w' dtype", "F8_E4M3");
    }

    @Test
    void aMissingField() throws IOException {
        Path file = withHeader("{\"w\":{\"shape\":[4],\"data_offsets\":[0,16]}}");
        assertReported(file, () -> Safetensors.open(file), "tensor 'w' dtype", "missing");
        Path noShape = withHeader("{\"w\":{\"dtype\":\"F32\",\"data_offsets\":[0,16]}}");
        assertReported(noShape, () -> Safetensors.open(noShape), "tensor 'w' shape", "missing");
        Path noOffsets = withHeader("{\"w\":{\"dtype\":\"F32\",\"shape\":[4]}}");
        assertReported(noOffsets, () -> Safetensors.open(noOffsets), "tensor 'w' data_offsets", "missing");
    }

    @Test
    void aNegativeDimension() throws IOException {
        Path file = withHeader("{\"w\":{\"dtype\":\"F32\",\"shape\":[-2,-2],\"data_offsets\":[0,16]}}");
        assertReported(file, () -> Safetensors.open(file), "tensor 'w' shape", "negative");
    }

    @Test
    void aFractionalDimension() throws IOException {
        Path file = withHeader("{\"w\":{\"dtype\":\"F32\",\"shape\":[1.5],\"data_offsets\":[0,16]}}");
        assertReported(file, () -> Safetensors.open(file), "tensor 'w' shape");
    }

    @Test
    void offsetsPastTheEndOfTheFile() throws IOException {
        Path file = withHeader("{\"w\":{\"dtype\":\"F32\",\"shape\":[100],\"data_offsets\":[0,400]}}");
        assertReported(file, () -> Safetensors.open(file), "tensor 'w' data_offsets", "[0, 400]", "16 bytes");
    }

    @Test
    void offsetsThatDisagreeWithShapeAndDtype() throws IOException {
        Path file = withHeader("{\"w\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,12]}}");
        assertReported(file, () -> Safetensors.open(file), "tensor 'w' data_offsets", "12 bytes", "takes 16");
    }

    @Test
    void offsetsThatAreNotAnAscendingPair() throws IOException {
        Path one = withHeader("{\"w\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[16]}}");
        assertReported(one, () -> Safetensors.open(one), "tensor 'w' data_offsets", "pair");
        Path backwards = withHeader("{\"w\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[16,0]}}");
        assertReported(backwards, () -> Safetensors.open(backwards), "tensor 'w' data_offsets");
        Path negative = withHeader("{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[-4,0]}}");
        assertReported(negative, () -> Safetensors.open(negative), "tensor 'w' data_offsets");
    }

    @Test
    void aShapeWhoseElementCountOverflows() throws IOException {
        Path file = withHeader("{\"w\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296],\"data_offsets\":[0,16]}}");
        assertReported(file, () -> Safetensors.open(file), "tensor 'w' shape");
    }

    @Test
    void overlappingTensors() throws IOException {
        Path file = withHeader("{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,12]},"
                + "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]}}");
        assertReported(file, () -> Safetensors.open(file), "tensor 'b' data_offsets", "overlap", "tensor 'a'");
    }

    @Test
    void aTensorListedTwice() throws IOException {
        Path file = withHeader("{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                + "\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]}}");
        assertReported(file, () -> Safetensors.open(file), "tensor 'w'", "twice");
    }

    @Test
    void metadataThatIsNotStrings() throws IOException {
        Path file = withHeader("{\"__metadata__\":{\"step\":100}}");
        assertReported(file, () -> Safetensors.open(file), "__metadata__ 'step'", "string");
    }

    @Test
    void anUnknownTensorName() throws IOException {
        Path file = withHeader("{\"w\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}");
        try (Safetensors st = Safetensors.open(file)) {
            assertReported(file, () -> st.load("v", Device.CPU), "tensor 'v'");
            assertReported(file, () -> st.info("v"), "tensor 'v'");
        }
    }

    /** A valid file of two tensors, "a" then "b" (the last in the data). */
    private Path validFile() {
        Path path = dir.resolve("valid.safetensors");
        try (Scope scope = Scope.open()) {
            LinkedHashMap<String, Tensor> m = new LinkedHashMap<>();
            m.put("a", Torch.ones(8));
            m.put("b", Torch.full(3, 1000));
            Safetensors.write(path, m, Map.of());
        }
        return path;
    }

    private static void truncate(Path file, long bytesToDrop) throws IOException {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.WRITE)) {
            ch.truncate(ch.size() - bytesToDrop);
        }
    }

    @Test
    void aFileCutInTheDataRegionIsReportedAtOpen() throws IOException {
        Path file = validFile();
        truncate(file, 100);
        assertReported(file, () -> Safetensors.open(file), "tensor 'b' data_offsets", "truncated");
    }

    @Test
    void aFileCutWhileOpenIsReportedAtLoadInsteadOfCrashing() throws IOException {
        Path file = validFile();
        try (Safetensors st = Safetensors.open(file)) {
            truncate(file, 100);
            assertReported(file, () -> st.load("b", Device.CPU), "tensor 'b'", "shrank");
        }
    }
}
