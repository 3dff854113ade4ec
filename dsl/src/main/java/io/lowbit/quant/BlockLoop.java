package io.lowbit.quant;

import io.lowbit.data.Calibration;
import io.lowbit.model.Interrupts;
import io.lowbit.model.Model;
import io.lowbit.model.Progress;
import io.lowbit.torch.Device;
import io.lowbit.torch.Scope;
import io.lowbit.torch.Tensor;
import io.lowbit.torch.Torch;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.Consumer;

/**
 * The block-sequential skeleton every algorithm shares (GPTQ's llama.py in IST-DASLab/gptq, and
 * llmc's blockwise quantization): embed the calibration windows, then for each block move it to the
 * work device, let the algorithm work on it given its inputs, run it to get the next block's inputs,
 * and move it back. A model in host memory larger than the GPU's memory is so quantized on the GPU
 * one block at a time.
 */
final class BlockLoop {
    private BlockLoop() {}

    /** What an algorithm does with block i, on the work device. */
    interface Step {
        /** Works on block i given its inputs (the quantized chain's), before they move on to the next block. */
        void block(int i, List<Tensor> inputs);

        /** After the chains moved past block i, before it goes back (AWQ rounds only now). */
        default void propagated(int i) {}
    }

    /** Hidden states on their way through the blocks of one model: the current block's inputs. */
    static final class Chain implements AutoCloseable {
        private final Model model;
        private final int micro; // 0: each batch through the block whole; else at most this many windows at a time
        private List<Tensor> states;

        private Chain(Model model, List<Tensor> states, int micro) {
            this.model = model;
            this.states = states;
            this.micro = micro;
        }

        /** The inputs of the current block, in batches of equal length (owned by the chain). */
        List<Tensor> states() {
            return states;
        }

        /** The inputs as the single tensor [n, T, hidden] of a {@link #windows} chain. */
        Tensor all() {
            return states.get(0);
        }

        /** The same states feeding another model's blocks (the full-precision chain beside the quantized one). */
        Chain following(Model other) {
            List<Tensor> shared = new ArrayList<>();
            for (Tensor t : states) shared.add(t.share().escape());
            return new Chain(other, shared, micro);
        }

        /** Replaces the states by block i's outputs, block i being on {@code work}. */
        void propagate(int i, Device work) {
            List<Tensor> next = new ArrayList<>();
            try (var g = Torch.noGrad()) {
                for (Tensor x : states)
                    next.add(micro == 0 ? model.runBlock(i, x).escape() : forward(model, i, x, work, micro));
            } catch (RuntimeException | Error e) {
                for (Tensor t : next) t.close();
                throw e;
            }
            for (Tensor x : states) x.close();
            states = next;
        }

        @Override
        public void close() {
            for (Tensor t : states) t.close();
            states = List.of();
        }
    }

    /**
     * Block 0's inputs: the calibration sequences embedded, in batches of equal length, on {@code work}
     * (none without a calibration set).
     */
    static Chain chain(Model q, Calibration cal, Device work) {
        return new Chain(q, cal == null ? new ArrayList<>() : embedded(q, cal, work), 0);
    }

    /**
     * All calibration windows (of one length) embedded as one tensor [n, T, hidden] on {@code on}, run
     * through a block {@code micro} windows at a time on the work device, the same way on every call
     * (so a resumed run matches bit for bit).
     */
    static Chain windows(Model q, Calibration cal, Device on, int micro) {
        List<Tensor> batches = embedded(q, cal, on); // one length: the batches keep the windows' order
        try (Scope s = Scope.open()) {
            return new Chain(
                    q, new ArrayList<>(List.of(s.keep(Torch.cat(batches, 0)).escape())), micro);
        } finally {
            for (Tensor t : batches) t.close();
        }
    }

    /** Block i of {@code m} on every window of x [n, T, hidden], {@code max} windows at a time on {@code work}. */
    static Tensor forward(Model m, int i, Tensor x, Device work, int max) {
        long n = x.size(0);
        int b = m.batchFor((int) x.size(1), work, max);
        List<Tensor> out = new ArrayList<>();
        try (Scope s = Scope.open();
                var g = Torch.noGrad()) {
            for (long start = 0; start < n; start += b)
                out.add(m.runBlock(i, x.narrow(0, start, Math.min(b, n - start)).to(work))
                        .to(x.device()));
            return s.keep(Torch.cat(out, 0)).escape();
        }
    }

    /**
     * The loop over {@code q}'s blocks on its calibration inputs (none when {@code cal} is null):
     * block i moves to {@code work}, {@code step} works on it, the inputs move past it, it moves back;
     * then {@code what} (if not null) reports blocks done. The inputs are freed whatever happens.
     */
    static void run(Model q, Calibration cal, Device work, Progress progress, String what, Step step) {
        try (Chain chain = chain(q, cal, work)) {
            run(work, progress, what, step, List.of(), List.of(chain));
        }
    }

    /**
     * The loop over several models' blocks in step: {@code ahead} chains move past block i before
     * {@code step} works on it (the targets it trains against), {@code behind} chains after it; the
     * first behind chain's states are the inputs the step is given.
     */
    static void run(Device work, Progress progress, String what, Step step, List<Chain> ahead, List<Chain> behind) {
        List<Model> models = new ArrayList<>();
        for (Chain c : ahead) if (!models.contains(c.model)) models.add(c.model);
        for (Chain c : behind) if (!models.contains(c.model)) models.add(c.model);
        int blocks = models.get(0).blocks().size();
        try (var g = Torch.noGrad()) {
            for (int i = 0; i < blocks; i++) {
                Interrupts.check();
                for (Model m : models) m.moveBlock(i, work);
                for (Chain c : ahead) c.propagate(i, work);
                step.block(i, behind.isEmpty() ? List.of() : behind.get(0).states());
                for (Chain c : behind) c.propagate(i, work);
                step.propagated(i);
                for (Model m : models) m.moveBlock(i, m.device());
                if (what != null) progress.update(what, i + 1, blocks);
            }
        }
    }

    /** What a model-level driver fills in while it quantizes a copy of the model. */
    static final class Output {
        final Model q;
        final Map<String, QuantizedLinear> layers = new LinkedHashMap<>();
        final Map<String, Double> phases = new LinkedHashMap<>();
        final List<Tesseraq.BlockLoss> losses = new ArrayList<>();

        private Output(Model q) {
            this.q = q;
        }
    }

    /**
     * A new quantized model made by {@code driver} on a copy of {@code m} (the original is untouched);
     * an interrupt or a failure frees the copy and every layer record made.
     */
    static QuantizedModel onCopy(Model m, Method method, Grid grid, Consumer<Output> driver) {
        long t0 = System.nanoTime();
        Output out = new Output(m.copy());
        try {
            driver.accept(out);
            double seconds = (System.nanoTime() - t0) / 1e9;
            return new QuantizedModel(out.q, method, grid, out.layers, seconds, out.losses, out.phases);
        } catch (RuntimeException | Error e) {
            out.q.close();
            for (QuantizedLinear l : out.layers.values()) l.close();
            throw e;
        }
    }

    /** The calibration sequences embedded on {@code work}, equal lengths batched together (new tensors). */
    static List<Tensor> embedded(Model q, Calibration cal, Device work) {
        List<Tensor> inputs = new ArrayList<>();
        try (var g = Torch.noGrad()) {
            for (int[][] batch : batches(cal, q, work)) {
                long[] flat = new long[batch.length * batch[0].length];
                for (int b = 0; b < batch.length; b++)
                    for (int t = 0; t < batch[0].length; t++) flat[b * batch[0].length + t] = batch[b][t];
                try (Scope s = Scope.open()) {
                    inputs.add(q.embed(Torch.tensor(flat, batch.length, batch[0].length)
                                    .to(q.device()))
                            .to(work)
                            .escape());
                }
            }
        } catch (RuntimeException | Error e) {
            for (Tensor t : inputs) t.close();
            throw e;
        }
        return inputs;
    }

    /** Sequences of equal length go together, 16 a batch on a GPU (the same Hessians as one at a time). */
    static List<int[][]> batches(Calibration cal, Model m, Device work) {
        Map<Integer, List<int[]>> byLength = new TreeMap<>();
        for (int[] s : cal.sequences())
            byLength.computeIfAbsent(s.length, k -> new ArrayList<>()).add(s);
        List<int[][]> out = new ArrayList<>();
        for (var e : byLength.entrySet()) {
            List<int[]> same = e.getValue();
            int n = m.batchFor(e.getKey(), work, 16);
            for (int i = 0; i < same.size(); i += n)
                out.add(same.subList(i, Math.min(i + n, same.size())).toArray(new int[0][]));
        }
        return out;
    }
}
