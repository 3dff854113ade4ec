package io.lowbit.quant;

import io.lowbit.model.CheckpointException;
import io.lowbit.model.Linear;
import io.lowbit.model.Model;
import io.lowbit.model.Safetensors;
import io.lowbit.torch.DType;
import io.lowbit.torch.Scope;
import io.lowbit.torch.Tensor;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * A folder of finished blocks of one TesseraQ run: per block its codes, effective scales, zeros and
 * (AWQ-folded) norm weights, written atomically once the block is done. A run stopped anywhere
 * (interrupt, crash, kill) resumes after the last finished block and reaches the same codes. The
 * folder is bound to one run by a key (model, grid, calibration, schedule); another run refuses it.
 */
final class BlockCheckpoints {
    private static final String KEY_FILE = "run.key";
    private final Path folder;
    private final String key;

    private BlockCheckpoints(Path folder, String key) {
        this.folder = folder;
        this.key = key;
    }

    static BlockCheckpoints open(Path folder, String key) {
        try {
            Files.createDirectories(folder);
            Path k = folder.resolve(KEY_FILE);
            if (Files.exists(k)) {
                String found = Files.readString(k).trim();
                if (!found.equals(key))
                    throw new IllegalArgumentException(
                            folder + " holds checkpoints of another TesseraQ run (model, grid, calibration or "
                                    + "schedule differ: key " + found + ", this run " + key
                                    + "); choose another folder or delete it");
            } else {
                Path tmp = Files.createTempFile(folder, ".run", ".key");
                Files.writeString(tmp, key + "\n");
                Files.move(tmp, k, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot use " + folder + " for TesseraQ checkpoints: " + e.getMessage(), e);
        }
        return new BlockCheckpoints(folder, key);
    }

    Path folder() {
        return folder;
    }

    private Path file(int block) {
        return folder.resolve(String.format(Locale.ROOT, "block-%03d.safetensors", block));
    }

    boolean has(int block) {
        return Files.isRegularFile(file(block));
    }

    void save(int block, Model q, Map<String, QuantizedLinear> done, Tesseraq.BlockLoss loss) {
        Model.Block b = q.blocks().get(block);
        LinkedHashMap<String, Tensor> t = new LinkedHashMap<>();
        t.put("attn_norm", b.attnNorm());
        t.put("mlp_norm", b.mlpNorm());
        for (Linear l : b.linears()) {
            QuantizedLinear r = done.get(l.name());
            t.put(l.name() + ".codes", r.codes());
            t.put(l.name() + ".scales", r.scales());
            t.put(l.name() + ".zeros", r.zeros());
        }
        Map<String, String> meta = new LinkedHashMap<>();
        meta.put("key", key);
        meta.put("nearest_loss", Double.toString(loss.nearestLoss()));
        meta.put("final_loss", Double.toString(loss.finalLoss()));
        meta.put("round_loss", loss.roundLoss().toString());
        meta.put("seconds", Double.toString(loss.seconds()));
        for (Linear l : b.linears())
            meta.put(l.name() + ".error", Double.toString(done.get(l.name()).loss()));
        Safetensors.write(file(block), t, meta);
    }

    /** Gives block {@code block} of q its saved norms and dense weights, and adds its records to {@code done}. */
    Tesseraq.BlockLoss load(int block, Model q, Grid grid, Map<String, QuantizedLinear> done) {
        Path f = file(block);
        Model.Block b = q.blocks().get(block);
        Map<String, QuantizedLinear> mine = new LinkedHashMap<>();
        try (Safetensors st = Safetensors.open(f);
                Scope s = Scope.open()) {
            Map<String, String> meta = st.metadata();
            if (!key.equals(meta.get("key")))
                throw new CheckpointException(f + ": written by another run (key " + meta.get("key") + ")");
            var device = b.attnNorm().device();
            q.setNorms(
                    block,
                    st.load("attn_norm", device).to(b.attnNorm().dtype()).escape(),
                    st.load("mlp_norm", device).to(b.mlpNorm().dtype()).escape());
            for (Linear l : b.linears()) {
                String n = l.name();
                Tensor codes = st.load(n + ".codes", device),
                        scales = st.load(n + ".scales", device),
                        zeros = st.load(n + ".zeros", device);
                MinMaxGroups g = new MinMaxGroups(l.outFeatures(), l.inFeatures(), grid);
                if (codes.dtype() != DType.U8
                        || codes.size(0) != l.outFeatures()
                        || codes.size(1) != l.inFeatures()
                        || scales.numel() != g.rows * g.groupsPerRow)
                    throw new CheckpointException(f + ": " + n + " does not fit the layer (" + l + ", " + grid + ")");
                l.setWeight(
                        g.dense(codes.to(DType.F32), scales, zeros, l.weight().dtype())
                                .escape());
                mine.put(
                        n,
                        new QuantizedLinear( // records live beside the model, as every driver keeps them
                                n,
                                grid.bits(),
                                grid.groupSize(),
                                codes.to(q.device()).escape(),
                                scales.to(q.device()).escape(),
                                zeros.to(q.device()).escape(),
                                g.groupOfColumn(),
                                null,
                                0,
                                Double.parseDouble(meta.getOrDefault(n + ".error", "0"))));
            }
            List<Double> rounds = new ArrayList<>();
            String r = meta.getOrDefault("round_loss", "[]").replaceAll("[\\[\\] ]", "");
            if (!r.isEmpty()) for (String x : r.split(",")) rounds.add(Double.parseDouble(x));
            done.putAll(mine);
            return new Tesseraq.BlockLoss(
                    block,
                    Double.parseDouble(meta.get("nearest_loss")),
                    Double.parseDouble(meta.get("final_loss")),
                    rounds,
                    Double.parseDouble(meta.get("seconds")),
                    true);
        } catch (CheckpointException | NumberFormatException | NullPointerException e) {
            for (QuantizedLinear x : mine.values()) x.close();
            throw new CheckpointException(
                    f + ": a damaged TesseraQ checkpoint (" + e.getMessage() + "); delete it and that block is "
                            + "computed again",
                    e);
        }
    }
}
