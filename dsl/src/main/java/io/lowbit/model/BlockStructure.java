package io.lowbit.model;

import java.util.List;

/**
 * What a decoder block's linears read, declared once for every algorithm that works group by group:
 * the linears that share an input, in the order the block computes those inputs, and the operation
 * whose output each input is, which is where a per-input-channel scale can be folded (divided out)
 * so the full-precision block still computes the same function.
 *
 * <p>Within a group the linears are listed in the order of the GPTQ reference's true-sequential
 * list (IST-DASLab/gptq llama.py): k, v, q / o / up, gate / down.
 */
public final class BlockStructure {
    private BlockStructure() {}

    /** What produces a group's input. */
    public enum Source {
        /** The attention RMSNorm: its weight can absorb 1/s. */
        ATTN_NORM,
        /** Attention's head mix of v: v's output rows can absorb 1/s, unless key/value heads are shared (GQA). */
        ATTENTION,
        /** The MLP RMSNorm: its weight can absorb 1/s. */
        MLP_NORM,
        /** SiLU(gate)·up: up's output rows can absorb 1/s. */
        SWIGLU
    }

    /** Linears (names inside a block, e.g. "attn.k") that read the same input, and what produces it. */
    public record Group(Source source, List<String> linears) {
        public Group {
            linears = List.copyOf(linears);
        }

        /** The group's linears in block {@code b}. */
        public List<Linear> of(Model.Block b) {
            return linears.stream().map(b::linear).toList();
        }

        /**
         * The linear whose output rows absorb a scale on this group's input, or null where a norm does;
         * null too for attention under grouped-query attention, where one v row serves several o columns.
         */
        public Linear foldRows(Model.Block b) {
            return switch (source) {
                case ATTN_NORM, MLP_NORM -> null;
                case ATTENTION -> b.v().outFeatures() == b.o().inFeatures() ? b.v() : null;
                case SWIGLU -> b.up();
            };
        }

        /** Whether a scale on this group's input can be folded into the block. */
        public boolean folds(Model.Block b) {
            return source == Source.ATTN_NORM || source == Source.MLP_NORM || foldRows(b) != null;
        }
    }

    /** The block's input groups in the order the block computes them. */
    public static final List<Group> GROUPS = List.of(
            new Group(Source.ATTN_NORM, List.of("attn.k", "attn.v", "attn.q")),
            new Group(Source.ATTENTION, List.of("attn.o")),
            new Group(Source.MLP_NORM, List.of("mlp.up", "mlp.gate")),
            new Group(Source.SWIGLU, List.of("mlp.down")));

    /** The linears whose outputs meet only in the attention scores (AWQ's clip search leaves them alone). */
    public static final List<String> QUERY_KEY = List.of("attn.q", "attn.k");
}
