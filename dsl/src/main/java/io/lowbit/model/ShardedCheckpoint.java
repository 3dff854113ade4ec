package io.lowbit.model;

import static io.lowbit.model.SafetensorsHeader.bad;
import static java.nio.charset.StandardCharsets.UTF_8;

import com.google.gson.Gson;
import com.google.gson.JsonElement;
import com.google.gson.JsonParseException;
import com.google.gson.Strictness;
import com.google.gson.TypeAdapter;
import com.google.gson.stream.JsonReader;
import com.google.gson.stream.JsonToken;
import com.google.gson.stream.JsonWriter;
import io.lowbit.torch.Device;
import io.lowbit.torch.Tensor;
import java.io.IOException;
import java.io.Reader;
import java.io.StringWriter;
import java.io.UncheckedIOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SequencedMap;
import java.util.Set;
import java.util.function.Function;
import java.util.regex.Pattern;

/**
 * A checkpoint folder as Hugging Face lays it out: either one {@code model.safetensors}, or shards
 * {@code model-00001-of-0000N.safetensors} listed by {@code model.safetensors.index.json}
 * ({"metadata": {...}, "weight_map": {tensor: shard file}}). Both look the same from here: one set
 * of names, each loadable. Shards are opened (mapped, header checked) on first use.
 */
public final class ShardedCheckpoint implements AutoCloseable {
    static final String SINGLE_FILE = "model.safetensors";
    static final String INDEX_FILE = "model.safetensors.index.json";
    private static final Pattern SHARD_NAME = Pattern.compile("model-\\d{5}-of-\\d{5}\\.safetensors");
    private static final TypeAdapter<JsonElement> JSON = new Gson().getAdapter(JsonElement.class);

    private final Path folder;
    /** The file that lists the tensors: the single file or the index; errors about the listing name it. */
    private final Path listing;
    /** Tensor name to shard file name, in listing order. */
    private final Map<String, String> weightMap;

    private final List<String> names;
    private final Map<String, String> metadata;
    private final Map<String, Safetensors> opened = new HashMap<>();
    private boolean closed;

    private ShardedCheckpoint(Path folder, Path listing, Map<String, String> weightMap, Map<String, String> metadata) {
        this.folder = folder;
        this.listing = listing;
        this.weightMap = Collections.unmodifiableMap(weightMap);
        this.names = List.copyOf(weightMap.keySet());
        this.metadata = Collections.unmodifiableMap(metadata);
    }

    /**
     * Opens the checkpoint in {@code folder}: {@code model.safetensors} if present (as Hugging Face
     * prefers it), else {@code model.safetensors.index.json}. Checks now that every shard the index
     * names exists; that each shard holds what the index says is checked when it is first opened.
     */
    public static ShardedCheckpoint open(Path folder) {
        if (!Files.isDirectory(folder)) throw new CheckpointException(folder + ": no such folder");
        Path single = folder.resolve(SINGLE_FILE), index = folder.resolve(INDEX_FILE);
        if (Files.exists(single)) {
            Safetensors file = Safetensors.open(single);
            Map<String, String> weightMap = new LinkedHashMap<>();
            for (String name : file.names()) weightMap.put(name, SINGLE_FILE);
            ShardedCheckpoint checkpoint = new ShardedCheckpoint(folder, single, weightMap, file.metadata());
            checkpoint.opened.put(SINGLE_FILE, file);
            return checkpoint;
        }
        if (Files.exists(index)) return openIndex(folder, index);
        throw new CheckpointException(
                folder + ": holds no checkpoint (neither " + SINGLE_FILE + " nor " + INDEX_FILE + ")");
    }

    private static ShardedCheckpoint openIndex(Path folder, Path index) {
        JsonElement root;
        try (Reader text = Files.newBufferedReader(index, UTF_8)) {
            JsonReader in = new JsonReader(text);
            in.setStrictness(Strictness.STRICT);
            root = JSON.read(in);
            if (in.peek() != JsonToken.END_DOCUMENT) throw bad(index, "index", "has more after its JSON object");
        } catch (IOException | JsonParseException | IllegalStateException | NumberFormatException e) {
            throw new CheckpointException(index + ": index is not valid JSON: " + SafetensorsHeader.jsonProblem(e), e);
        }
        if (!root.isJsonObject()) throw bad(index, "index", "is not a JSON object");
        JsonElement map = root.getAsJsonObject().get("weight_map");
        if (map == null || !map.isJsonObject()) throw bad(index, "weight_map", "is missing or not an object");

        Map<String, String> weightMap = new LinkedHashMap<>();
        Set<String> present = new HashSet<>();
        for (Map.Entry<String, JsonElement> e : map.getAsJsonObject().entrySet()) {
            String field = "weight_map '" + e.getKey() + "'";
            JsonElement v = e.getValue();
            if (!v.isJsonPrimitive() || !v.getAsJsonPrimitive().isString())
                throw bad(index, field, "is not a file name");
            String shard = v.getAsString();
            // shards live beside the index; anything else ("../x", "/etc/x") is refused
            if (shard.isEmpty()
                    || shard.contains("/")
                    || shard.contains("\\")
                    || shard.equals(".")
                    || shard.equals(".."))
                throw bad(index, field, "'" + shard + "' is not a file name in the checkpoint folder");
            if (!present.contains(shard)) {
                if (!Files.isRegularFile(folder.resolve(shard)))
                    throw bad(index, field, "names shard file " + shard + ", which is missing from " + folder);
                present.add(shard);
            }
            weightMap.put(e.getKey(), shard);
        }

        Map<String, String> metadata = new LinkedHashMap<>();
        JsonElement meta = root.getAsJsonObject().get("metadata");
        if (meta != null && meta.isJsonObject())
            for (Map.Entry<String, JsonElement> e : meta.getAsJsonObject().entrySet()) {
                JsonElement v = e.getValue();
                metadata.put(e.getKey(), v.isJsonPrimitive() ? v.getAsString() : v.toString());
            }
        return new ShardedCheckpoint(folder, index, weightMap, metadata);
    }

    public Path folder() {
        return folder;
    }

    /** Tensor names in the order the index's weight_map (or the single file's header) lists them. */
    public List<String> names() {
        return names;
    }

    public Safetensors.Info info(String name) {
        return shardOf(name).info(name);
    }

    /**
     * The single file's "__metadata__", or the index's "metadata" with values as text (numbers such
     * as total_size included).
     */
    public Map<String, String> metadata() {
        return metadata;
    }

    /** A new tensor on {@code device}; see {@link Safetensors#load}. */
    public Tensor load(String name, Device device) {
        return shardOf(name).load(name, device);
    }

    /** Unmaps every shard opened. Closing twice is harmless. */
    @Override
    public synchronized void close() {
        closed = true;
        for (Safetensors s : opened.values()) s.close();
        opened.clear();
    }

    private synchronized Safetensors shardOf(String name) {
        if (closed) throw new IllegalStateException(folder + " was closed");
        String shard = weightMap.get(name);
        if (shard == null) throw new CheckpointException(listing + ": tensor '" + name + "' is not in this checkpoint");
        Safetensors s = opened.get(shard);
        if (s != null) return s;
        s = Safetensors.open(folder.resolve(shard));
        for (Map.Entry<String, String> e : weightMap.entrySet()) {
            if (e.getValue().equals(shard) && !s.has(e.getKey())) {
                s.close();
                throw bad(
                        listing,
                        "weight_map '" + e.getKey() + "'",
                        "places it in " + shard + ", which does not hold it");
            }
        }
        opened.put(shard, s);
        return s;
    }

    // ---------------------------------------------------------------- writing

    /**
     * Writes {@code tensors} (in the map's order) into {@code folder}; see
     * {@link #writeSharded(Path, List, Function, long, Map)}. The caller keeps ownership of the tensors.
     */
    public static void writeSharded(
            Path folder, SequencedMap<String, Tensor> tensors, long maxShardBytes, Map<String, String> metadata) {
        // the writer closes what it is given: give it second handles, so the caller's stay open
        writeSharded(
                folder, List.copyOf(tensors.keySet()), name -> tensors.get(name).share(), maxShardBytes, metadata);
    }

    /**
     * Writes the tensors {@code supplier} gives for {@code names}, one at a time, into {@code folder}:
     * as {@code model.safetensors} if they fit in one shard of {@code maxShardBytes} data bytes, else
     * as {@code model-0000i-of-0000N.safetensors} shards (filled in order; a tensor larger than the
     * limit gets a shard to itself) plus {@code model.safetensors.index.json}, whose metadata holds
     * {@code metadata} and total_size. Every shard's "__metadata__" holds {@code metadata}.
     *
     * <p>Ownership: the writer closes each tensor the supplier returns as soon as its bytes are written,
     * so a model larger than memory can be streamed. To keep a tensor, return {@link Tensor#share()}.
     *
     * <p>Each file appears complete or not at all under its final name; the index is written after the
     * shards. Checkpoint files of an earlier write that this one does not replace (a single file, an
     * index, shards of another count) are deleted.
     *
     * @throws UncheckedIOException when the file system fails (a full disk, say)
     */
    public static void writeSharded(
            Path folder,
            List<String> names,
            Function<String, Tensor> supplier,
            long maxShardBytes,
            Map<String, String> metadata) {
        if (maxShardBytes <= 0)
            throw new IllegalArgumentException("maxShardBytes must be positive, not " + maxShardBytes);
        if (metadata.containsKey("total_size"))
            throw new IllegalArgumentException("metadata 'total_size' is computed by the writer and cannot be given");
        if (new HashSet<>(names).size() != names.size()) throw new IllegalArgumentException("names repeat: " + names);
        if (names.contains(SafetensorsHeader.METADATA))
            throw new IllegalArgumentException(
                    "'" + SafetensorsHeader.METADATA + "' is reserved and cannot name a tensor");
        List<SafetensorsWriter> shards = new ArrayList<>();
        try {
            Files.createDirectories(folder);
            try {
                SafetensorsWriter current = null;
                int mostTensors = 0; // in any finished shard: sizes the header space of the next one
                for (int i = 0; i < names.size(); i++) {
                    String name = names.get(i);
                    try (Tensor t = supplier.apply(name)) {
                        if (t == null)
                            throw new IllegalArgumentException("the supplier gave no tensor for '" + name + "'");
                        if (current != null
                                && current.count() > 0
                                && current.dataBytes() + t.byteSize() > maxShardBytes) {
                            current.finish(null);
                            mostTensors = Math.max(mostTensors, current.count());
                            current = null;
                        }
                        if (current == null) {
                            current = new SafetensorsWriter(
                                    folder, headerReserve(names, i, mostTensors, metadata), metadata);
                            shards.add(current);
                        }
                        current.append(name, t);
                    }
                }
                if (current == null) { // no tensors at all: still a valid, empty checkpoint
                    current = new SafetensorsWriter(folder, 0, metadata);
                    shards.add(current);
                }
                current.finish(null);
                commit(folder, shards, metadata);
            } finally {
                for (SafetensorsWriter w : shards) w.close();
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write a checkpoint to " + folder, e);
        }
    }

    /**
     * Header bytes to reserve for a shard starting at names[from]. The shard's header is written after
     * its data, so its size is a guess: room for as many tensors as any earlier shard held (twice, for
     * slack; 4096 for the first shard), each with a generous 160 bytes of JSON besides its name. A
     * header that still outgrows it costs one copy of the shard (see SafetensorsWriter).
     */
    private static long headerReserve(List<String> names, int from, int mostTensors, Map<String, String> metadata) {
        int room = mostTensors == 0 ? 4096 : 2 * mostTensors + 64;
        long bytes = 64;
        for (Map.Entry<String, String> m : metadata.entrySet())
            bytes += m.getKey().getBytes(UTF_8).length + m.getValue().getBytes(UTF_8).length + 8;
        for (int i = from; i < Math.min(names.size(), from + room); i++)
            bytes += names.get(i).getBytes(UTF_8).length + 160;
        return bytes;
    }

    /** Renames the finished shards into place, writes the index, and removes stale checkpoint files. */
    private static void commit(Path folder, List<SafetensorsWriter> shards, Map<String, String> metadata)
            throws IOException {
        if (shards.size() == 1) {
            shards.getFirst().commit(folder.resolve(SINGLE_FILE));
            Files.deleteIfExists(folder.resolve(INDEX_FILE));
            deleteStaleShards(folder, Set.of());
            return;
        }
        int n = shards.size();
        Map<String, String> weightMap = new LinkedHashMap<>();
        Set<String> written = new HashSet<>();
        long totalSize = 0;
        for (int k = 0; k < n; k++) {
            String shard = String.format(Locale.ROOT, "model-%05d-of-%05d.safetensors", k + 1, n);
            shards.get(k).commit(folder.resolve(shard));
            written.add(shard);
            for (String name : shards.get(k).names()) weightMap.put(name, shard);
            totalSize += shards.get(k).dataBytes();
        }
        // open() prefers a single file to the index: an old one must go before the new index counts
        Files.deleteIfExists(folder.resolve(SINGLE_FILE));
        writeIndex(folder, metadata, totalSize, weightMap);
        deleteStaleShards(folder, written);
    }

    private static void writeIndex(
            Path folder, Map<String, String> metadata, long totalSize, Map<String, String> weightMap)
            throws IOException {
        StringWriter text = new StringWriter();
        try (JsonWriter out = new JsonWriter(text)) {
            out.setIndent("  ");
            out.beginObject();
            out.name("metadata").beginObject();
            for (Map.Entry<String, String> m : metadata.entrySet())
                out.name(m.getKey()).value(m.getValue());
            out.name("total_size").value(totalSize);
            out.endObject();
            out.name("weight_map").beginObject();
            for (Map.Entry<String, String> w : weightMap.entrySet())
                out.name(w.getKey()).value(w.getValue());
            out.endObject();
            out.endObject();
        }
        // same discipline as the shards: a complete index or none under the final name
        Path temp = SafetensorsWriter.tempFileIn(folder, ".index.json.tmp");
        try {
            Files.writeString(temp, text + "\n", UTF_8);
            Files.move(temp, folder.resolve(INDEX_FILE), StandardCopyOption.ATOMIC_MOVE);
        } finally {
            Files.deleteIfExists(temp);
        }
    }

    private static void deleteStaleShards(Path folder, Set<String> keep) throws IOException {
        List<Path> stale = new ArrayList<>();
        try (DirectoryStream<Path> files = Files.newDirectoryStream(folder)) {
            for (Path p : files) {
                String name = p.getFileName().toString();
                if (SHARD_NAME.matcher(name).matches() && !keep.contains(name)) stale.add(p);
            }
        }
        for (Path p : stale) Files.deleteIfExists(p);
    }
}
