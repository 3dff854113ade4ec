package io.lowbit.model;

import io.lowbit.torch.DType;
import io.lowbit.torch.Device;
import io.lowbit.torch.Scope;
import io.lowbit.torch.Tensor;
import io.lowbit.torch.Torch;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A Llama/Qwen2 decoder: token embedding, blocks of (RMSNorm → attention with RoPE and GQA →
 * residual, RMSNorm → SwiGLU MLP → residual), final RMSNorm, lm_head. The whole forward pass is
 * {@link #forward(Tensor, Tensor, Tensor, KvCache)}. Weights use Hugging Face names and layout.
 */
public final class Model implements AutoCloseable {
    /** One decoder block; its linears are what quantization replaces. */
    public record Block(
            Tensor attnNorm,
            Linear q,
            Linear k,
            Linear v,
            Linear o,
            Tensor mlpNorm,
            Linear gate,
            Linear up,
            Linear down)
            implements AutoCloseable {
        /**
         * In the model's order, q, k, v, o, gate, up, down (saved files and masks follow it); the order
         * in which algorithms quantize them is {@link BlockStructure#GROUPS}.
         */
        public List<Linear> linears() {
            return List.of(q, k, v, o, gate, up, down);
        }

        /** A linear by its name in the block ("attn.q" … "attn.o", "mlp.gate", "mlp.up", "mlp.down"). */
        public Linear linear(String name) {
            return switch (name) {
                case "attn.q" -> q;
                case "attn.k" -> k;
                case "attn.v" -> v;
                case "attn.o" -> o;
                case "mlp.gate" -> gate;
                case "mlp.up" -> up;
                case "mlp.down" -> down;
                default -> throw new IllegalArgumentException("no linear " + name + " in a block");
            };
        }

        /** Frees a working copy made by {@link Model#blockCopy} (never a model's own block). */
        @Override
        public void close() {
            attnNorm.close();
            mlpNorm.close();
            for (Linear l : linears()) l.close();
        }
    }

    /** The final norm and lm_head: a working copy for {@link Model#headLoss}. */
    public record Head(Tensor norm, Tensor weight) implements AutoCloseable {
        @Override
        public void close() {
            norm.close();
            weight.close();
        }
    }

    private final Config config;
    private final Tokenizer tokenizer;
    private final Device device;
    private final String source;
    private final Tensor embed; // [vocab, hidden]
    private final Tensor lmHead; // [vocab, hidden]; a second handle to embed when tied
    private final Tensor finalNorm; // [hidden]
    private final Block[] blocks;
    private final Rope rope;
    private final Map<Device, Rope> ropes = new java.util.concurrent.ConcurrentHashMap<>(); // other devices

    private Model(
            Config config,
            Tokenizer tokenizer,
            Device device,
            String source,
            Tensor embed,
            Tensor lmHead,
            Tensor finalNorm,
            List<Block> blocks,
            Rope rope) {
        this.config = config;
        this.tokenizer = tokenizer;
        this.device = device;
        this.source = source;
        this.embed = embed;
        this.lmHead = lmHead;
        this.finalNorm = finalNorm;
        this.blocks = blocks.toArray(new Block[0]);
        this.rope = rope;
    }

    // ---------------------------------------------------------------- construction

    /** Hugging Face name of every tensor the config calls for, with its shape. */
    public static Map<String, long[]> expectedTensors(Config c) {
        Map<String, long[]> m = new LinkedHashMap<>();
        long h = c.hiddenSize(), f = c.intermediateSize();
        m.put("model.embed_tokens.weight", new long[] {c.vocabSize(), h});
        for (int i = 0; i < c.numLayers(); i++) {
            String p = "model.layers." + i + ".";
            m.put(p + "input_layernorm.weight", new long[] {h});
            m.put(p + "self_attn.q_proj.weight", new long[] {c.qDim(), h});
            m.put(p + "self_attn.k_proj.weight", new long[] {c.kvDim(), h});
            m.put(p + "self_attn.v_proj.weight", new long[] {c.kvDim(), h});
            if (c.architecture().attentionBias()) {
                m.put(p + "self_attn.q_proj.bias", new long[] {c.qDim()});
                m.put(p + "self_attn.k_proj.bias", new long[] {c.kvDim()});
                m.put(p + "self_attn.v_proj.bias", new long[] {c.kvDim()});
            }
            m.put(p + "self_attn.o_proj.weight", new long[] {h, c.qDim()});
            m.put(p + "post_attention_layernorm.weight", new long[] {h});
            m.put(p + "mlp.gate_proj.weight", new long[] {f, h});
            m.put(p + "mlp.up_proj.weight", new long[] {f, h});
            m.put(p + "mlp.down_proj.weight", new long[] {h, f});
        }
        m.put("model.norm.weight", new long[] {h});
        if (!c.tieWordEmbeddings()) m.put("lm_head.weight", new long[] {c.vocabSize(), h});
        return m;
    }

    /**
     * Builds a model that owns {@code weights} (Hugging Face names, all on {@code device}). Every
     * tensor the config names must be there with its shape; errors name {@code origin} and the tensor.
     */
    static Model of(Config c, Map<String, Tensor> weights, Tokenizer tokenizer, Device device, String origin) {
        for (var e : expectedTensors(c).entrySet()) {
            Tensor t = weights.get(e.getKey());
            if (t == null) throw new CheckpointException(origin + ": tensor '" + e.getKey() + "' is missing");
            if (!Arrays.equals(t.shape(), e.getValue()))
                throw new CheckpointException(origin + ": tensor '" + e.getKey() + "' has shape "
                        + Arrays.toString(t.shape()) + " but the config implies " + Arrays.toString(e.getValue()));
        }
        for (Tensor t : weights.values()) t.escape();
        List<Block> blocks = new ArrayList<>();
        for (int i = 0; i < c.numLayers(); i++) {
            String p = "model.layers." + i + ".";
            String n = "layers." + i + ".";
            blocks.add(new Block(
                    weights.get(p + "input_layernorm.weight"),
                    new Linear(
                            n + "attn.q",
                            weights.get(p + "self_attn.q_proj.weight"),
                            weights.get(p + "self_attn.q_proj.bias")),
                    new Linear(
                            n + "attn.k",
                            weights.get(p + "self_attn.k_proj.weight"),
                            weights.get(p + "self_attn.k_proj.bias")),
                    new Linear(
                            n + "attn.v",
                            weights.get(p + "self_attn.v_proj.weight"),
                            weights.get(p + "self_attn.v_proj.bias")),
                    new Linear(n + "attn.o", weights.get(p + "self_attn.o_proj.weight"), null),
                    weights.get(p + "post_attention_layernorm.weight"),
                    new Linear(n + "mlp.gate", weights.get(p + "mlp.gate_proj.weight"), null),
                    new Linear(n + "mlp.up", weights.get(p + "mlp.up_proj.weight"), null),
                    new Linear(n + "mlp.down", weights.get(p + "mlp.down_proj.weight"), null)));
        }
        Tensor embed = weights.get("model.embed_tokens.weight");
        Tensor head = c.tieWordEmbeddings() ? embed.share().escape() : weights.get("lm_head.weight");
        return new Model(
                c,
                tokenizer,
                device,
                origin,
                embed,
                head,
                weights.get("model.norm.weight"),
                blocks,
                new Rope(c, device));
    }

    // ---------------------------------------------------------------- facts

    public Config config() {
        return config;
    }

    public Tokenizer tokenizer() {
        return tokenizer;
    }

    public Device device() {
        return device;
    }

    public DType dtype() {
        return embed.dtype();
    }
    /** Where the model came from: a path, or "random:preset". */
    public String source() {
        return source;
    }

    public List<Block> blocks() {
        return List.of(blocks);
    }

    /**
     * A fingerprint of the current weights: the config, and for every tensor of {@link #weights()} its
     * name, dtype, shape and two checksums of its raw bits. Equal models share it, a quantized copy or
     * a model with any single weight changed (even −0 for +0, or two weights swapped) does not; it is
     * the same on every run and every device, since integer sums do not depend on summation order.
     */
    public String fingerprint() {
        java.security.MessageDigest sha;
        try {
            sha = java.security.MessageDigest.getInstance("SHA-256");
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
        sha.update(config.toString().getBytes(java.nio.charset.StandardCharsets.UTF_8));
        java.nio.ByteBuffer b = java.nio.ByteBuffer.allocate(16);
        try (var g = Torch.noGrad()) {
            for (var e : weights().entrySet()) {
                Tensor w = e.getValue();
                sha.update((e.getKey() + " " + w.dtype() + " " + java.util.Arrays.toString(w.shape()))
                        .getBytes(java.nio.charset.StandardCharsets.UTF_8));
                long[] sums = rawChecksums(w);
                sha.update(b.clear().putLong(sums[0]).putLong(sums[1]).array());
            }
        }
        return name() + "@" + java.util.HexFormat.of().formatHex(sha.digest(), 0, 8);
    }

    /** A prime, so rows of common widths (powers of two) never line up with it: see rawChecksums. */
    private static final long CHECKSUM_PRIME = 65521;

    /**
     * Σ b_i and Σ b_i·(i mod P + 1), mod 2^64, where b_i are the tensor's elements read as signed
     * integers of their own width: the raw bits, in place on the tensor's device, with no copy. Laid
     * out as rows of P, one integer column sum (accumulated in int64) gives both. Changing one element
     * changes the first sum by its nonzero difference. Swapping two different elements of at most 4
     * bytes moves the second by (b_i − b_j)·(w_j − w_i), below 2^48 in size and so nonzero mod 2^64,
     * unless their positions are a multiple of P apart.
     */
    private static long[] rawChecksums(Tensor w) {
        DType asInt = switch (w.dtype().bytes) {
            case 1 -> DType.I8;
            case 2 -> DType.I16;
            case 4 -> DType.I32;
            default -> DType.I64;
        };
        long n = w.numel(), rows = n / CHECKSUM_PRIME, body = rows * CHECKSUM_PRIME;
        try (Scope s = Scope.open()) {
            Tensor flat = w.dtype() == DType.BOOL ? w.to(DType.I8).reshape(-1) : w.reshape(-1);
            Tensor bits = Torch.call1("aten::view", "dtype", flat, asInt);
            long plain = 0, weighted = 0;
            if (rows > 0) {
                Tensor columns = bits.narrow(0, 0, body)
                        .view(rows, CHECKSUM_PRIME)
                        .sum(0)
                        .to(DType.I64); // int64 sums
                Tensor factor = Torch.arange(1, CHECKSUM_PRIME + 1, 1, DType.I64, w.device());
                plain += columns.sum().itemLong();
                weighted += columns.mul(factor).sum().itemLong();
            }
            if (body < n) { // the last n − body < P elements
                Tensor tail = bits.narrow(0, body, n - body).to(DType.I64);
                Tensor factor = Torch.arange(1, n - body + 1, 1, DType.I64, w.device());
                plain += tail.sum().itemLong();
                weighted += tail.mul(factor).sum().itemLong();
            }
            return new long[] {plain, weighted};
        }
    }

    /** A short name for tables: the checkpoint's file or folder name, or "random:preset". */
    public String name() {
        if (source.startsWith("random:")) return source;
        java.nio.file.Path p = java.nio.file.Path.of(source).getFileName();
        String n = p == null ? source : p.toString();
        return n.endsWith(".bin") ? n.substring(0, n.length() - 4) : n;
    }

    /** Every quantizable linear, block by block, in {@link Block#linears()} order. */
    public List<Linear> linears() {
        List<Linear> all = new ArrayList<>();
        for (Block b : blocks) all.addAll(b.linears());
        return Collections.unmodifiableList(all);
    }

    /** The linear called {@code name}, e.g. "layers.3.mlp.down". */
    public Linear linear(String name) {
        for (Linear l : linears()) if (l.name().equals(name)) return l;
        throw new IllegalArgumentException(
                "no linear '" + name + "' (names look like layers.0.attn.q, layers.0.mlp.down)");
    }

    /** All weights under their Hugging Face names (the model keeps ownership). */
    public Map<String, Tensor> weights() {
        Map<String, Tensor> m = new LinkedHashMap<>();
        m.put("model.embed_tokens.weight", embed);
        for (int i = 0; i < blocks.length; i++) {
            Block b = blocks[i];
            String p = "model.layers." + i + ".";
            m.put(p + "input_layernorm.weight", b.attnNorm());
            Linear[] attn = {b.q(), b.k(), b.v(), b.o()};
            String[] names = {"q", "k", "v", "o"}; // a fixed order: saved files are the same byte for byte
            for (int j = 0; j < attn.length; j++) {
                m.put(p + "self_attn." + names[j] + "_proj.weight", attn[j].weight());
                if (attn[j].bias() != null) m.put(p + "self_attn." + names[j] + "_proj.bias", attn[j].bias());
            }
            m.put(p + "post_attention_layernorm.weight", b.mlpNorm());
            m.put(p + "mlp.gate_proj.weight", b.gate().weight());
            m.put(p + "mlp.up_proj.weight", b.up().weight());
            m.put(p + "mlp.down_proj.weight", b.down().weight());
        }
        m.put("model.norm.weight", finalNorm);
        if (!config.tieWordEmbeddings()) m.put("lm_head.weight", lmHead);
        return m;
    }

    /**
     * A model sharing this one's tensors (no copy), whose linear weights can be replaced without
     * touching this model: how "quantize into a new model" stays cheap.
     */
    public Model copy() {
        List<Block> bs = new ArrayList<>();
        for (Block b : blocks)
            bs.add(new Block(
                    b.attnNorm().share().escape(),
                    b.q().copy(),
                    b.k().copy(),
                    b.v().copy(),
                    b.o().copy(),
                    b.mlpNorm().share().escape(),
                    b.gate().copy(),
                    b.up().copy(),
                    b.down().copy()));
        for (Block b : bs)
            for (Linear l : b.linears()) {
                l.weight().escape();
                if (l.bias() != null) l.bias().escape();
            }
        return new Model(
                config,
                tokenizer,
                device,
                source,
                embed.share().escape(),
                lmHead.share().escape(),
                finalNorm.share().escape(),
                bs,
                new Rope(config, device));
    }

    /**
     * A new model with every tensor converted to {@code dtype} (a float32 copy of a bf16 model, for
     * gradients in float32); the same as {@link #copy()} when the dtype is already this one.
     */
    public Model to(DType dtype) {
        if (dtype == dtype()) return copy();
        return converted(device, dtype);
    }

    /**
     * A new model with every tensor moved to {@code d} (this one is untouched; close it to free its
     * memory): a model kept in host memory while the work goes to the GPU block by block. Moved from
     * a GPU to the host, the tensors are page-locked, so the blocks go back several times faster.
     */
    public Model to(Device d) {
        if (d.equals(device)) return copy();
        return converted(d, dtype());
    }

    private Model converted(Device d, DType dtype) {
        List<Block> bs = new ArrayList<>();
        for (int i = 0; i < blocks.length; i++) bs.add(blockCopy(i, d, dtype));
        Tensor e = embed.to(d, dtype).escape();
        Tensor head = config.tieWordEmbeddings()
                ? e.share().escape()
                : lmHead.to(d, dtype).escape();
        return new Model(
                config, tokenizer, d, source, e, head, finalNorm.to(d, dtype).escape(), bs, new Rope(config, d));
    }

    /**
     * Block i's weights as new tensors on {@code d} in {@code dtype}, owned by the caller ({@link
     * Block#close}): a float32 working copy of one block on the GPU, run with {@link #runBlock(Block, Tensor)}.
     */
    public Block blockCopy(int i, Device d, DType dtype) {
        Block b = blocks[i];
        return new Block(
                moved(b.attnNorm(), d, dtype),
                converted(b.q(), d, dtype),
                converted(b.k(), d, dtype),
                converted(b.v(), d, dtype),
                converted(b.o(), d, dtype),
                moved(b.mlpNorm(), d, dtype),
                converted(b.gate(), d, dtype),
                converted(b.up(), d, dtype),
                converted(b.down(), d, dtype));
    }

    /** The final norm and lm_head as new tensors on {@code d} in {@code dtype}, owned by the caller. */
    public Head headCopy(Device d, DType dtype) {
        return new Head(moved(finalNorm, d, dtype), moved(lmHead, d, dtype));
    }

    /**
     * t on d in dtype, a new escaped tensor. Widening across devices copies first and converts
     * there (a bf16 block bound for float32 on the GPU: half the bytes cross, and the host does not
     * convert 0.9 GB on one thread).
     */
    private static Tensor moved(Tensor t, Device d, DType dtype) {
        if (t.device().isCuda() && !d.isCuda()) { // to the host from a GPU: page-locked
            try (Scope s = Scope.open()) {
                return s.keep(Torch.call1("aten::pin_memory", "", t.to(d, dtype), null))
                        .escape();
            }
        }
        if (t.device().equals(d) || dtype.bytes <= t.dtype().bytes)
            return t.to(d, dtype).escape();
        try (Scope s = Scope.open()) {
            return s.keep(t.to(d).to(dtype)).escape();
        }
    }

    private static Linear converted(Linear l, Device d, DType dtype) {
        return new Linear(l.name(), moved(l.weight(), d, dtype), l.bias() == null ? null : moved(l.bias(), d, dtype));
    }

    // ---------------------------------------------------------------- forward

    /**
     * Logits [B, T, vocab] for tokens [B, T] (int64). {@code attentionMask} [B, T] marks real tokens
     * with 1 and padding with 0 (left or right padding); null means no padding.
     */
    public Tensor forward(Tensor tokens, Tensor attentionMask) {
        checkTokens(tokens);
        if (attentionMask == null) {
            try (Scope s = Scope.open()) {
                return s.keep(forward(tokens, positionsFrom0(tokens), null, null));
            }
        }
        try (Scope s = Scope.open()) {
            Tensor valid = attentionMask.to(DType.BOOL);
            Tensor positions = positionsOf(valid);
            return s.keep(forward(tokens, positions, keepMask(valid, tokens.size(1)), null));
        }
    }

    /** Token ids outside the vocabulary would fail deep in the embedding; say so plainly. */
    private void checkTokens(Tensor tokens) {
        if (tokens.dim() != 2)
            throw new IllegalArgumentException(
                    "tokens must be [batch, length], got " + Arrays.toString(tokens.shape()));
        if (tokens.dtype() != DType.I64 && tokens.dtype() != DType.I32)
            throw new IllegalArgumentException("tokens must be int64 ids, got " + tokens.dtype());
        if (tokens.size(1) > config.maxPositions())
            throw new IllegalArgumentException(
                    tokens.size(1) + " tokens exceed the model's context of " + config.maxPositions());
        try (Scope s = Scope.open()) {
            long lo = tokens.min().itemLong(), hi = tokens.max().itemLong();
            if (lo < 0 || hi >= config.vocabSize())
                throw new IllegalArgumentException(
                        "token id " + (lo < 0 ? lo : hi) + " is outside the vocabulary of " + config.vocabSize());
        }
    }

    /** Position of each token: real tokens count 0, 1, 2, …; padding gets 0. */
    static Tensor positionsOf(Tensor valid) {
        try (Scope s = Scope.open()) {
            Tensor p = valid.to(DType.I64).cumsum(1).sub(1L);
            return s.keep(p.maskedFill(p.lt(0L), 0));
        }
    }

    /**
     * Boolean keep-mask [B, 1, T, S] for the last T of S key slots: causal, keys must be valid, and
     * every query sees itself (so padding rows stay finite; their outputs are never used).
     */
    static Tensor keepMask(Tensor keyValid, long t) {
        try (Scope s = Scope.open()) {
            long b = keyValid.size(0), sl = keyValid.size(1);
            Device d = keyValid.device();
            Tensor causal = Torch.ones(DType.BOOL, d, t, sl).tril(sl - t);
            Tensor self = Torch.ones(DType.BOOL, d, t, sl)
                    .tril(sl - t)
                    .logicalAnd(Torch.ones(DType.BOOL, d, t, sl).triu(sl - t));
            Tensor keep =
                    causal.unsqueeze(0).logicalAnd(keyValid.view(b, 1, sl)).logicalOr(self.unsqueeze(0));
            return s.keep(keep.unsqueeze(1));
        }
    }

    /**
     * The forward pass. tokens [B, T]; positions [B, T] (RoPE); keep [B, 1, T, S] boolean or null
     * for plain causal attention; cache holds earlier keys/values (null: none). Returns logits.
     */
    Tensor forward(Tensor tokens, Tensor positions, Tensor keep, KvCache cache) {
        try (Scope s = Scope.open()) {
            Tensor h = Torch.embedding(embed, tokens); // [B, T, hidden]
            for (int i = 0; i < blocks.length; i++) {
                Tensor next = block(blocks[i], i, h, positions, keep, cache, rope);
                h.close(); // autograd keeps what backward needs; our handle to the rest goes
                h = next;
            }
            if (cache != null) cache.advance(tokens.size(1));
            return s.keep(Torch.linear(rmsNorm(h, finalNorm), lmHead, null));
        }
    }

    /** Decoder block i on hidden states h [B, T, hidden]: attention and MLP, each with its residual. */
    private Tensor block(Block L, int i, Tensor h, Tensor positions, Tensor keep, KvCache cache, Rope rope) {
        try (Scope layer = Scope.open()) {
            Interrupts.check();
            Tensor mid = h.add(attention(L, i, rmsNorm(h, L.attnNorm()), positions, keep, cache, rope));
            return layer.keep(mid.add(mlp(L, rmsNorm(mid, L.mlpNorm()))));
        }
    }

    /** Block i's attention on normed hidden states x [B, T, hidden], o_proj included, no residual. */
    private Tensor attention(Block L, int i, Tensor x, Tensor positions, Tensor keep, KvCache cache, Rope rope) {
        long b = x.size(0), t = x.size(1);
        int heads = config.numHeads(), kvHeads = config.numKvHeads(), hd = config.headDim();
        try (Scope s = Scope.open()) {
            Tensor q = rope.apply(L.q().forward(x).view(b, t, heads, hd).transpose(1, 2), positions);
            Tensor k = rope.apply(L.k().forward(x).view(b, t, kvHeads, hd).transpose(1, 2), positions);
            Tensor v = L.v().forward(x).view(b, t, kvHeads, hd).transpose(1, 2);
            if (cache != null) {
                k = cache.keys(i, k);
                v = cache.values(i, v);
            }
            Tensor a = Torch.scaledDotProductAttention(q, repeatKv(k), repeatKv(v), keep, keep == null);
            return s.keep(L.o().forward(a.transpose(1, 2).reshape(b, t, (long) heads * hd)));
        }
    }

    /**
     * Block i's attention alone (q, k, v, RoPE, causal attention, o) on normed hidden states x
     * [B, T, hidden] of unpadded sequences: what AWQ's scale search compares for q, k, v.
     */
    public Tensor attention(int i, Tensor x) {
        try (Scope s = Scope.open()) {
            return s.keep(attention(blocks[i], i, x, positionsFrom0(x), null, null, ropeOn(x.device())));
        }
    }

    /** Block i's SwiGLU MLP on normed hidden states x [.., hidden], no residual. */
    public Tensor mlp(int i, Tensor x) {
        return mlp(blocks[i], x);
    }

    private static Tensor mlp(Block L, Tensor x) {
        try (Scope s = Scope.open()) {
            return s.keep(L.down().forward(L.gate().forward(x).silu().mul(L.up().forward(x))));
        }
    }

    /**
     * Replaces block i's two RMSNorm weights (AWQ folds its channel scales into them); the model
     * takes ownership of the new tensors and lets go of the old ones (other models sharing them keep theirs).
     */
    public void setNorms(int i, Tensor attnNorm, Tensor mlpNorm) {
        Block b = blocks[i];
        long h = config.hiddenSize();
        if (attnNorm.numel() != h || mlpNorm.numel() != h)
            throw new IllegalArgumentException("norm weights must have " + h + " entries");
        if (attnNorm != b.attnNorm()) b.attnNorm().close();
        if (mlpNorm != b.mlpNorm()) b.mlpNorm().close();
        blocks[i] = new Block(attnNorm, b.q(), b.k(), b.v(), b.o(), mlpNorm, b.gate(), b.up(), b.down());
    }

    /** Token embeddings [B, T, hidden] of ids [B, T]: the input of block 0. */
    public Tensor embed(Tensor tokens) {
        checkTokens(tokens);
        return Torch.embedding(embed, tokens);
    }

    /**
     * Block i alone on hidden states [B, T, hidden] of unpadded sequences (causal attention,
     * positions 0..T−1): how block-by-block quantization runs the model.
     */
    public Tensor runBlock(int i, Tensor h) {
        return runBlock(blocks[i], h);
    }

    /** A block's computation with the given weights (a {@link #blockCopy}) on hidden states [B, T, hidden]. */
    public Tensor runBlock(Block weights, Tensor h) {
        try (Scope s = Scope.open()) {
            return s.keep(block(weights, -1, h, positionsFrom0(h), null, null, ropeOn(h.device())));
        }
    }

    /** Positions 0..T−1 for every row of x [B, T, …]: unpadded sequences. */
    private static Tensor positionsFrom0(Tensor x) {
        try (Scope s = Scope.open()) {
            return s.keep(Torch.arange(0, x.size(1), 1, DType.I64, x.device())
                    .unsqueeze(0)
                    .expand(x.size(0), x.size(1)));
        }
    }

    /** RoPE tables on {@code d}: the model's own, or ones made once for another device. */
    private Rope ropeOn(Device d) {
        return d.equals(device) ? rope : ropes.computeIfAbsent(d, x -> new Rope(config, x));
    }

    /**
     * Moves block i's weights to {@code d}: block-by-block quantization brings one block at a time
     * to the GPU while the rest of a model larger than its memory stays in host memory.
     */
    public void moveBlock(int i, Device d) {
        Block b = blocks[i];
        if (b.attnNorm().device().equals(d)) return;
        for (Linear l : b.linears()) l.moveTo(d);
        Tensor an = b.attnNorm().to(d).escape(), mn = b.mlpNorm().to(d).escape();
        b.attnNorm().close();
        b.mlpNorm().close();
        blocks[i] = new Block(an, b.q(), b.k(), b.v(), b.o(), mn, b.gate(), b.up(), b.down());
    }

    /** Grouped-query attention: each key/value head serves numHeads / numKvHeads query heads. */
    private Tensor repeatKv(Tensor x) {
        int rep = config.numHeads() / config.numKvHeads();
        if (rep == 1) return x;
        long b = x.size(0), s = x.size(2);
        return x.unsqueeze(2)
                .expand(b, config.numKvHeads(), rep, s, config.headDim())
                .reshape(b, config.numHeads(), s, config.headDim());
    }

    /** x / rms(x) · w, computed in float32 (or float64 for a float64 model) and cast back, as the references do. */
    private Tensor rmsNorm(Tensor x, Tensor w) {
        try (Scope s = Scope.open()) {
            Tensor xf = x.dtype() == DType.F64 ? x : x.to(DType.F32);
            Tensor normed = xf.mul(xf.square()
                            .mean(new long[] {-1}, true)
                            .add(config.rmsNormEps())
                            .rsqrt())
                    .to(x.dtype());
            return s.keep(normed.mul(w));
        }
    }

    /**
     * Mean next-token cross-entropy over every position t ≥ 1 of tokens [B, T] (float32 at least), skipping
     * targets where {@code mask} [B, T] is 0 (padding, or positions the caller excludes). mask may be null.
     */
    public Tensor loss(Tensor tokens, Tensor mask) {
        try (Scope s = Scope.open()) {
            return s.keep(crossEntropy(forward(tokens, mask), tokens, mask));
        }
    }

    /**
     * {@link #loss} of tokens [B, T] (unpadded) from the last block's output h [B, T, hidden], with
     * a {@link #headCopy} on h's device: how a pass that runs the blocks itself ends.
     */
    public Tensor headLoss(Head head, Tensor h, Tensor tokens) {
        try (Scope s = Scope.open()) {
            return s.keep(crossEntropy(
                    Torch.linear(rmsNorm(h, head.norm()), head.weight(), null), tokens.to(h.device()), null));
        }
    }

    private Tensor crossEntropy(Tensor logits, Tensor tokens, Tensor mask) {
        try (Scope s = Scope.open()) {
            long b = tokens.size(0), t = tokens.size(1);
            Tensor predicted = logits.narrow(1, 0, t - 1).reshape(b * (t - 1), config.vocabSize());
            if (predicted.dtype() != DType.F64) predicted = predicted.to(DType.F32); // bf16 logits: the loss in float32
            Tensor targets = tokens.narrow(1, 1, t - 1);
            if (mask != null)
                targets = targets.maskedFill(mask.narrow(1, 1, t - 1).eq(0), -100);
            return s.keep(Torch.crossEntropy(predicted, targets.reshape(b * (t - 1))));
        }
    }

    /**
     * ∂loss/∂W for every quantizable linear weight, by one forward and backward through libtorch
     * autograd (the loss of {@link #loss}). Returns new tensors (the caller closes them); the
     * weights are left as they were, without gradients.
     */
    public Map<String, Tensor> linearGradients(Tensor tokens, Tensor mask) {
        List<Linear> ls = linears();
        Map<String, Tensor> grads = new LinkedHashMap<>();
        try (var g = Torch.enableGrad()) {
            for (Linear l : ls) l.weight().requiresGrad(true);
            try (Scope s = Scope.open()) {
                loss(tokens, mask).backward();
            }
            for (Linear l : ls) grads.put(l.name(), l.weight().grad());
        } finally {
            for (Linear l : ls) {
                l.weight().zeroGrad();
                l.weight().requiresGrad(false);
            }
        }
        return grads;
    }

    /**
     * How many sequences of {@code length} tokens to run at once on {@code d}: 8 (or {@code max}) on
     * a GPU; on a CPU as many as keep one layer's attention scores under 24 MiB, because larger
     * buffers are mapped afresh by the C allocator on every layer and the page faults cost more than
     * batching gains (stories260K, 64 windows of 512: 2.9 s at batch 2, 4.1 s at batch 8).
     */
    public int batchFor(int length, Device d, int max) {
        if (d.isCuda()) return max;
        long scoreBytes = (long) config.numHeads() * length * length * 4;
        return (int) Math.max(1, Math.min(max, (24L << 20) / scoreBytes));
    }

    /** Token ids as a [1, n] int64 tensor on this model's device. */
    public Tensor tokens(int... ids) {
        long[] l = new long[ids.length];
        for (int i = 0; i < ids.length; i++) l[i] = ids[i];
        try (Scope s = Scope.open()) {
            return s.keep(Torch.tensor(l, 1, l.length).to(device));
        }
    }

    @Override
    public void close() {
        embed.close();
        lmHead.close();
        finalNorm.close();
        for (Block b : blocks) {
            b.attnNorm().close();
            b.mlpNorm().close();
            for (Linear l : b.linears()) l.close();
        }
        rope.close();
        for (Rope r : ropes.values()) r.close();
    }

    @Override
    public String toString() {
        return String.format(
                java.util.Locale.ROOT,
                "Model[%s, %s, %d layers, hidden %d, %.2fM parameters, %s on %s]",
                name(),
                config.architecture(),
                config.numLayers(),
                config.hiddenSize(),
                config.parameterCount() / 1e6,
                dtype(),
                device);
    }
}
