package io.lowbit.model;

import static io.lowbit.model.TestFiles.assertReported;
import static io.lowbit.model.TestFiles.raw;
import static java.nio.charset.StandardCharsets.UTF_8;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import io.lowbit.torch.DType;
import io.lowbit.torch.Device;
import io.lowbit.torch.Scope;
import io.lowbit.torch.Tensor;
import io.lowbit.torch.Torch;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Checkpoint folders: one model.safetensors, or shards listed by model.safetensors.index.json. */
class SafetensorsShardedTest {
    @TempDir
    Path dir;

    private static final String INDEX = "model.safetensors.index.json";

    /** Seven tensors of known byte sizes (in the comments) for a 150-byte shard limit. */
    private static LinkedHashMap<String, Tensor> model() {
        Torch.manualSeed(3);
        LinkedHashMap<String, Tensor> m = new LinkedHashMap<>();
        m.put("embed", Torch.randn(DType.F32, 4, 8)); // 128
        m.put("l0.w", Torch.randn(DType.F32, 16)); // 64
        m.put("l0.b", Torch.randn(DType.F32, 8).to(DType.BF16)); // 16
        m.put("l1.w", Torch.randn(DType.F32, 16)); // 64
        m.put("l1.b", Torch.randn(DType.F32, 8).to(DType.BF16)); // 16
        m.put("big", Torch.randn(DType.F32, 64)); // 256: over the limit, a shard of its own
        m.put("head", Torch.tensor(new long[] {1, -2, 3, -4}, 4)); // 32
        return m;
    }

    /** Shards filled in order, a new one whenever the next tensor would pass 150 bytes. */
    private static final Map<String, String> EXPECTED_WEIGHT_MAP = orderedMap(
            "embed", "model-00001-of-00005.safetensors", // 128
            "l0.w", "model-00002-of-00005.safetensors", // 64
            "l0.b", "model-00002-of-00005.safetensors", // 80
            "l1.w", "model-00002-of-00005.safetensors", // 144
            "l1.b", "model-00003-of-00005.safetensors", // 144 + 16 > 150
            "big", "model-00004-of-00005.safetensors",
            "head", "model-00005-of-00005.safetensors");

    private static final long TOTAL_SIZE = 128 + 64 + 16 + 64 + 16 + 256 + 32;

    private static Map<String, String> orderedMap(String... kv) {
        Map<String, String> m = new LinkedHashMap<>();
        for (int i = 0; i < kv.length; i += 2) m.put(kv[i], kv[i + 1]);
        return m;
    }

    private static Set<String> filesIn(Path folder) throws IOException {
        try (Stream<Path> s = Files.list(folder)) {
            return s.map(p -> p.getFileName().toString()).collect(Collectors.toCollection(TreeSet::new));
        }
    }

    private static JsonObject json(Path file) throws IOException {
        return JsonParser.parseString(Files.readString(file, UTF_8)).getAsJsonObject();
    }

    @Test
    void aSmallShardLimitGivesSeveralShardsAndAnIndex() throws IOException {
        try (Scope scope = Scope.open()) {
            LinkedHashMap<String, Tensor> model = model();
            ShardedCheckpoint.writeSharded(dir, model, 150, Map.of("format", "pt"));

            Set<String> expectedFiles = new TreeSet<>(EXPECTED_WEIGHT_MAP.values());
            expectedFiles.add(INDEX);
            assertEquals(expectedFiles, filesIn(dir), "shards and the index, nothing else");

            JsonObject index = json(dir.resolve(INDEX));
            assertEquals(
                    TOTAL_SIZE,
                    index.getAsJsonObject("metadata").get("total_size").getAsLong());
            assertEquals("pt", index.getAsJsonObject("metadata").get("format").getAsString());
            Map<String, String> weightMap = new LinkedHashMap<>();
            index.getAsJsonObject("weight_map")
                    .entrySet()
                    .forEach(e -> weightMap.put(e.getKey(), e.getValue().getAsString()));
            assertEquals(new ArrayList<>(EXPECTED_WEIGHT_MAP.entrySet()), new ArrayList<>(weightMap.entrySet()));

            // each shard is a safetensors file of its own, holding exactly its tensors
            for (String shard : new TreeSet<>(EXPECTED_WEIGHT_MAP.values())) {
                List<String> expected = EXPECTED_WEIGHT_MAP.entrySet().stream()
                        .filter(e -> e.getValue().equals(shard))
                        .map(Map.Entry::getKey)
                        .toList();
                try (Safetensors file = Safetensors.open(dir.resolve(shard))) {
                    assertEquals(expected, file.names(), shard);
                    assertEquals(Map.of("format", "pt"), file.metadata(), shard);
                }
            }

            try (ShardedCheckpoint checkpoint = ShardedCheckpoint.open(dir)) {
                assertEquals(List.copyOf(model.keySet()), checkpoint.names());
                assertEquals(String.valueOf(TOTAL_SIZE), checkpoint.metadata().get("total_size"));
                assertEquals("pt", checkpoint.metadata().get("format"));
                for (Map.Entry<String, Tensor> e : model.entrySet()) {
                    Safetensors.Info info = checkpoint.info(e.getKey());
                    assertEquals(e.getValue().dtype(), info.dtype());
                    assertArrayEquals(e.getValue().shape(), info.shape());
                    Tensor back = checkpoint.load(e.getKey(), Device.defaultDevice());
                    assertArrayEquals(raw(e.getValue()), raw(back), e.getKey());
                }
            }
        }
    }

    @Test
    void aModelThatFitsOneShardIsASingleFile() throws IOException {
        try (Scope scope = Scope.open()) {
            LinkedHashMap<String, Tensor> model = model();
            ShardedCheckpoint.writeSharded(dir, model, TOTAL_SIZE, Map.of());
            assertEquals(Set.of("model.safetensors"), filesIn(dir));
            try (ShardedCheckpoint checkpoint = ShardedCheckpoint.open(dir)) {
                assertEquals(List.copyOf(model.keySet()), checkpoint.names());
                for (Map.Entry<String, Tensor> e : model.entrySet())
                    assertArrayEquals(raw(e.getValue()), raw(checkpoint.load(e.getKey(), Device.CPU)), e.getKey());
            }
        }
    }

    @Test
    void aHandWrittenIndexIsRead() throws IOException {
        try (Scope scope = Scope.open()) {
            LinkedHashMap<String, Tensor> a = new LinkedHashMap<>(), b = new LinkedHashMap<>();
            a.put("x", Torch.tensor(new float[] {1, 2}, 2));
            b.put("y", Torch.tensor(new long[] {7}, 1));
            b.put("z", Torch.tensor(new float[] {-1}, 1));
            Safetensors.write(dir.resolve("part-a.safetensors"), a, Map.of());
            Safetensors.write(dir.resolve("part-b.safetensors"), b, Map.of());
            Files.writeString(dir.resolve(INDEX), """
          {
            "metadata": {"total_size": 28, "author": "hand"},
            "weight_map": {
              "z": "part-b.safetensors",
              "x": "part-a.safetensors",
              "y": "part-b.safetensors"
            }
          }
          """);
            try (ShardedCheckpoint checkpoint = ShardedCheckpoint.open(dir)) {
                assertEquals(List.of("z", "x", "y"), checkpoint.names(), "weight_map order");
                assertEquals(Map.of("total_size", "28", "author", "hand"), checkpoint.metadata());
                assertArrayEquals(
                        new float[] {1, 2}, checkpoint.load("x", Device.CPU).toFloatArray());
                assertArrayEquals(
                        new long[] {7}, checkpoint.load("y", Device.CPU).toLongArray());
                assertArrayEquals(
                        new float[] {-1}, checkpoint.load("z", Device.CPU).toFloatArray());
            }
        }
    }

    @Test
    void theSupplierFormClosesEachTensorOnceWritten() {
        List<Tensor> made = new ArrayList<>();
        List<String> names = List.of("a", "b", "c", "d");
        long baseline = Torch.liveTensors();
        ShardedCheckpoint.writeSharded(
                dir,
                names,
                name -> {
                    Tensor t = Torch.full(names.indexOf(name), DType.F32, Device.CPU, 10); // 40 bytes
                    made.add(t);
                    return t;
                },
                100,
                Map.of());
        assertEquals(4, made.size());
        assertTrue(made.stream().allMatch(Tensor::isClosed), "every supplied tensor was closed");
        assertEquals(baseline, Torch.liveTensors());
        try (ShardedCheckpoint checkpoint = ShardedCheckpoint.open(dir);
                Scope scope = Scope.open()) {
            assertEquals(names, checkpoint.names());
            for (int i = 0; i < names.size(); i++)
                assertEquals(
                        i * 10.0,
                        checkpoint.load(names.get(i), Device.CPU).sum().item());
        }
    }

    @Test
    void theMapFormLeavesTheCallersTensorsOpen() {
        try (Scope scope = Scope.open()) {
            LinkedHashMap<String, Tensor> model = model();
            long before = Torch.liveTensors();
            ShardedCheckpoint.writeSharded(dir, model, 150, Map.of());
            assertEquals(before, Torch.liveTensors());
            assertFalse(model.values().stream().anyMatch(Tensor::isClosed));
        }
    }

    @Test
    void rewritingAFolderRemovesTheEarlierLayout() throws IOException {
        try (Scope scope = Scope.open()) {
            LinkedHashMap<String, Tensor> model = model();
            ShardedCheckpoint.writeSharded(dir, model, 150, Map.of());
            ShardedCheckpoint.writeSharded(dir, model, 1000, Map.of());
            assertEquals(Set.of("model.safetensors"), filesIn(dir), "single file replaces shards and index");

            ShardedCheckpoint.writeSharded(dir, model, 150, Map.of());
            assertFalse(filesIn(dir).contains("model.safetensors"), "shards replace the single file");
            ShardedCheckpoint.writeSharded(dir, model, 300, Map.of());
            assertTrue(
                    filesIn(dir).stream().noneMatch(f -> f.contains("-of-00005")),
                    "stale shards of another count are gone");
            try (ShardedCheckpoint checkpoint = ShardedCheckpoint.open(dir)) {
                for (Map.Entry<String, Tensor> e : model.entrySet())
                    assertArrayEquals(raw(e.getValue()), raw(checkpoint.load(e.getKey(), Device.CPU)), e.getKey());
            }
        }
    }

    @Test
    void aWriteThatFailsMidwayLeavesTheEarlierCheckpointAndNoTemporaryFiles() throws IOException {
        try (Scope scope = Scope.open()) {
            LinkedHashMap<String, Tensor> model = model();
            ShardedCheckpoint.writeSharded(dir, model, 150, Map.of());
            Set<String> before = filesIn(dir);
            byte[] index = Files.readAllBytes(dir.resolve(INDEX));

            List<String> names = List.copyOf(model.keySet());
            RuntimeException failure = new RuntimeException("out of ideas");
            RuntimeException thrown = assertThrows(
                    RuntimeException.class,
                    () -> ShardedCheckpoint.writeSharded(
                            dir,
                            names,
                            name -> {
                                if (name.equals("big")) throw failure; // three shards are under way by now
                                return model.get(name).mul(2);
                            },
                            150,
                            Map.of()));
            assertEquals(failure, thrown, "the supplier's exception comes through unchanged");
            assertEquals(before, filesIn(dir));
            assertArrayEquals(index, Files.readAllBytes(dir.resolve(INDEX)));
            try (ShardedCheckpoint checkpoint = ShardedCheckpoint.open(dir)) {
                assertArrayEquals(raw(model.get("embed")), raw(checkpoint.load("embed", Device.CPU)));
            }
        }
    }

    @Test
    void aHeaderLargerThanTheSpaceReservedForItStillReadsBack() throws IOException {
        Path path = dir.resolve("tight.safetensors");
        try (Scope scope = Scope.open()) {
            LinkedHashMap<String, Tensor> model = model();
            try (SafetensorsWriter w = new SafetensorsWriter(dir, 8, Map.of("k", "v"))) { // far too little room
                for (Map.Entry<String, Tensor> e : model.entrySet()) w.append(e.getKey(), e.getValue());
                w.finish(null);
                w.commit(path);
            }
            assertEquals(Set.of("tight.safetensors"), filesIn(dir), "no temporary files left");
            assertEquals(0, TestFiles.headerLength(path) % 8);
            try (Safetensors file = Safetensors.open(path)) {
                assertEquals(List.copyOf(model.keySet()), file.names());
                assertEquals(Map.of("k", "v"), file.metadata());
                for (Map.Entry<String, Tensor> e : model.entrySet())
                    assertArrayEquals(raw(e.getValue()), raw(file.load(e.getKey(), Device.CPU)), e.getKey());
            }
        }
    }

    @Test
    void loadedTensorsDieWithTheirScope() {
        try (Scope scope = Scope.open()) {
            ShardedCheckpoint.writeSharded(dir, model(), 150, Map.of());
        }
        long baseline = Torch.liveTensors();
        try (ShardedCheckpoint checkpoint = ShardedCheckpoint.open(dir)) {
            try (Scope scope = Scope.open()) {
                for (String name : checkpoint.names()) checkpoint.load(name, Device.CPU);
                assertEquals(baseline + 7, Torch.liveTensors());
            }
            assertEquals(baseline, Torch.liveTensors());
        }
    }

    // ---------------------------------------------------------------- errors

    @Test
    void aFolderWithoutACheckpoint() {
        assertReported(dir, () -> ShardedCheckpoint.open(dir), "model.safetensors");
        Path missing = dir.resolve("absent");
        assertReported(missing, () -> ShardedCheckpoint.open(missing), "no such folder");
    }

    private void writeFiveShards() {
        try (Scope scope = Scope.open()) {
            ShardedCheckpoint.writeSharded(dir, model(), 150, Map.of());
        }
    }

    @Test
    void anIndexNamingAMissingShard() throws IOException {
        writeFiveShards();
        Files.delete(dir.resolve("model-00003-of-00005.safetensors"));
        assertReported(
                dir.resolve(INDEX),
                () -> ShardedCheckpoint.open(dir),
                "weight_map 'l1.b'",
                "model-00003-of-00005.safetensors",
                "missing");
    }

    @Test
    void anIndexPlacingATensorInAShardThatLacksIt() throws IOException {
        writeFiveShards();
        Path index = dir.resolve(INDEX);
        JsonObject json = json(index);
        json.getAsJsonObject("weight_map").addProperty("ghost", "model-00001-of-00005.safetensors");
        Files.writeString(index, json.toString());
        try (ShardedCheckpoint checkpoint = ShardedCheckpoint.open(dir);
                Scope scope = Scope.open()) {
            assertEquals(32, checkpoint.load("head", Device.CPU).byteSize(), "other shards still load");
            assertReported(
                    index, () -> checkpoint.load("embed", Device.CPU), "weight_map 'ghost'", "model-00001-of-00005");
            assertReported(index, () -> checkpoint.info("ghost"), "weight_map 'ghost'");
        }
    }

    @Test
    void shardsAreOpenedOnFirstUse() throws IOException {
        writeFiveShards();
        try (ShardedCheckpoint checkpoint = ShardedCheckpoint.open(dir);
                Scope scope = Scope.open()) {
            Files.delete(dir.resolve("model-00004-of-00005.safetensors")); // after open: nothing has read it yet
            assertEquals(32, checkpoint.load("head", Device.CPU).byteSize());
            assertReported(
                    dir.resolve("model-00004-of-00005.safetensors"),
                    () -> checkpoint.load("big", Device.CPU),
                    "no such file");
        }
    }

    @Test
    void aBrokenIndex() throws IOException {
        Path index = dir.resolve(INDEX);
        Files.writeString(index, "{\"weight_map\": {\"a\": ");
        assertReported(index, () -> ShardedCheckpoint.open(dir), "not valid JSON");
        Files.writeString(index, "{\"metadata\": {}}");
        assertReported(index, () -> ShardedCheckpoint.open(dir), "weight_map");
        Files.writeString(index, "{\"weight_map\": {\"a\": 3}}");
        assertReported(index, () -> ShardedCheckpoint.open(dir), "weight_map 'a'");
        Files.writeString(index, "{\"weight_map\": {\"a\": \"../outside.safetensors\"}}");
        assertReported(index, () -> ShardedCheckpoint.open(dir), "weight_map 'a'", "../outside.safetensors");
    }

    @Test
    void anUnknownTensor() {
        writeFiveShards();
        try (ShardedCheckpoint checkpoint = ShardedCheckpoint.open(dir)) {
            assertReported(dir.resolve(INDEX), () -> checkpoint.load("nope", Device.CPU), "tensor 'nope'");
        }
    }
}
