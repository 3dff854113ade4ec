package io.lowbit.quant;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.lowbit.TestData;
import io.lowbit.model.Linear;
import io.lowbit.model.Model;
import io.lowbit.model.Models;
import io.lowbit.model.Progress;
import io.lowbit.model.Safetensors;
import io.lowbit.torch.DType;
import io.lowbit.torch.Device;
import io.lowbit.torch.Scope;
import io.lowbit.torch.Tensor;
import io.lowbit.torch.Torch;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The packed form of a quantized linear: exact unpacking, the dense product, real bytes, save and read. */
class PackedLinearTest {
    static Model fp;

    @BeforeAll
    static void setUp() {
        fp = Models.load(
                TestData.stories260K().toString(), Models.Options.defaults().on(Device.CPU));
    }

    @AfterAll
    static void tearDown() {
        fp.close();
    }

    @Test
    void codesUnpackToThemselvesForEveryWidthAndOddSizes() {
        Random r = new Random(3);
        for (int bits : new int[] {2, 3, 4, 8})
            for (int cols : new int[] {1, 7, 11, 33, 100, 172}) {
                int rows = 3;
                byte[] codes = new byte[rows * cols];
                for (int k = 0; k < codes.length; k++)
                    codes[k] = (byte) (k % 7 == 0 ? (1 << bits) - 1 : r.nextInt(1 << bits));
                try (Scope s = Scope.open()) {
                    Tensor c = Torch.tensor(codes, DType.U8, rows, cols).to(Device.CPU);
                    QuantizedLinear q = new QuantizedLinear(
                            "x",
                            bits,
                            -1,
                            c,
                            Torch.ones(DType.F32, Device.CPU, rows, 1),
                            Torch.zeros(DType.F32, Device.CPU, rows, 1),
                            new int[cols],
                            null,
                            0,
                            0);
                    try (PackedLinear p = PackedLinear.of(q, c.to(DType.F32))) {
                        assertEquals(
                                rows * ((cols * bits + 31) / 32) * 4L, p.codeBytes(), "⌈cols·bits/32⌉ words a row");
                        assertArrayEquals(
                                c.to(DType.F32).toFloatArray(), p.codes().toFloatArray(), 0f, bits + " bits, " + cols);
                    }
                }
            }
    }

    /** Each linear's largest-magnitude {@code fraction} of weights kept in 16 bits (none for 0). */
    static Mask largest(double fraction) {
        Map<String, Tensor> kept = new HashMap<>();
        if (fraction == 0) return new Mask(kept);
        for (Linear l : fp.linears()) {
            try (Scope s = Scope.open()) {
                Tensor w = l.weight().abs();
                long n = Math.max(1, Math.round(w.numel() * fraction));
                double threshold = w.flatten().topk(n, 0, true).values().min().item();
                kept.put(l.name(), s.keep(w.ge(threshold)).escape());
            }
        }
        return new Mask(kept);
    }

    @Test
    void packedProductEqualsTheDenseFakeQuantProduct() {
        Torch.manualSeed(1);
        for (double density : new double[] {0, 0.0035, 0.02})
            for (int bits : new int[] {2, 3, 4, 8})
                for (int group : new int[] {-1, 32}) {
                    try (Mask mask = largest(density);
                            QuantizedModel q = Quantize.run(
                                    fp,
                                    Grid.bits(bits).groups(group),
                                    Rtn.Options.defaults(),
                                    null,
                                    mask,
                                    Progress.NONE);
                            Scope s = Scope.open()) {
                        if (density > 0) assertTrue(q.kept() > 0);
                        for (Linear l : q.model().linears()) {
                            try (PackedLinear p = q.packed(l.name())) {
                                assertEquals(q.linear(l.name()).kept(), p.kept());
                                Tensor dense = l.weight().to(DType.F32);
                                // every step of unpacking is exact and scale·(code − zero) is one float32 rounding, as
                                // in
                                // the dense model: the weights agree bit for bit; the product then agrees to rounding
                                assertArrayEquals(
                                        dense.toFloatArray(),
                                        p.weight(DType.F32).toFloatArray(),
                                        0f,
                                        l.name() + " W" + bits + " g" + group + " kept " + density);
                                Tensor x = Torch.randn(DType.F32, Device.CPU, 5, dense.size(1));
                                Tensor want = Torch.linear(x, dense, null), got = p.forward(x);
                                double err = got.sub(want).abs().max().item(),
                                        scale = want.abs().max().item();
                                assertTrue(err <= 1e-5 * scale, l.name() + ": " + err + " against " + scale);
                            }
                        }
                    }
                }
    }

    @Test
    void memoryIsTheBytesOfTheStoredTensors(@TempDir Path dir) throws Exception {
        try (Mask mask = largest(0.01);
                QuantizedModel q =
                        Quantize.run(fp, Grid.bits(3).groups(32), Rtn.Options.defaults(), null, mask, Progress.NONE)) {
            Memory m = q.memory();
            long codes = 0, scales = 0, outliers = 0, other = 0;
            LinkedHashMap<String, Tensor> all = new LinkedHashMap<>();
            for (Linear l : q.model().linears()) {
                long rows = l.weight().size(0), cols = l.weight().size(1), groups = (cols + 31) / 32;
                long kept = q.linear(l.name()).kept();
                codes += rows * ((cols * 3 + 31) / 32) * 4;
                scales += rows * groups * (4 + 1) + cols * 4; // float32 scale, u8 zero, int32 group index
                outliers += (rows + 1) * 4 + kept * (4 + l.weight().dtype().bytes);
                PackedLinear p = q.packed(l.name());
                all.putAll(p.tensors(l.name()));
            }
            for (var e : q.model().weights().entrySet())
                if (!e.getKey().endsWith("proj.weight"))
                    other += e.getValue().numel() * e.getValue().dtype().bytes;
            assertEquals(new Memory(codes, scales, outliers, other, q.weights()), m);
            assertEquals(8.0 * (codes + scales + outliers) / q.weights(), m.bitsPerWeight(), 1e-12);
            System.out.println("stories260K W3 g32, 1 % kept: " + m);

            // what is saved is what was counted, and reads back to the same weights
            Path file = dir.resolve("packed.safetensors");
            Safetensors.write(file, all, Map.of());
            try (Safetensors st = Safetensors.open(file)) {
                long data = 0;
                for (String n : st.names()) data += st.info(n).byteSize();
                assertEquals(m.quantized(), data);
                assertTrue(Files.size(file) > data);
                for (Linear l : q.model().linears())
                    try (PackedLinear back = PackedLinear.read(st, l.name(), l.name(), 3);
                            Scope s = Scope.open()) {
                        assertArrayEquals(
                                l.weight().to(DType.F32).toFloatArray(),
                                back.weight(DType.F32).toFloatArray(),
                                0f);
                    }
            } finally {
                for (Tensor t : all.values()) t.close();
            }
        }
    }

    static long folderBytes(Path dir) throws java.io.IOException {
        try (var files = Files.list(dir)) {
            return files.mapToLong(f -> f.toFile().length()).sum();
        }
    }

    @Test
    void thePackedFolderLoadsBackAndOldFoldersStillLoad(@TempDir Path dir) throws Exception {
        try (Mask mask = largest(0.01);
                QuantizedModel q =
                        Quantize.run(fp, Grid.bits(3).groups(32), Rtn.Options.defaults(), null, mask, Progress.NONE)) {
            Export.LOWBIT.write(q, dir.resolve("packed"));
            q.save(dir.resolve("old"));
            for (String f : new String[] {"packed", "old"})
                try (QuantizedModel back = QuantizedModel.load(dir.resolve(f));
                        Scope s = Scope.open()) {
                    assertEquals(q.label(), back.label(), f);
                    assertEquals(q.kept(), back.kept(), f);
                    for (var e : q.model().weights().entrySet())
                        assertArrayEquals(
                                e.getValue().to(DType.F32).toFloatArray(),
                                back.model()
                                        .weights()
                                        .get(e.getKey())
                                        .to(DType.F32)
                                        .toFloatArray(),
                                0f,
                                f + " " + e.getKey());
                    for (Linear l : q.model().linears()) {
                        QuantizedLinear a = q.linear(l.name()), b = back.linear(l.name());
                        assertArrayEquals(
                                a.codes().to(DType.I32).toIntArray(),
                                b.codes().to(DType.I32).toIntArray());
                        assertArrayEquals(a.scales().toFloatArray(), b.scales().toFloatArray(), 0f);
                        assertArrayEquals(a.zeros().toFloatArray(), b.zeros().toFloatArray(), 0f);
                        assertArrayEquals(a.keep().toBooleanArray(), b.keep().toBooleanArray());
                        assertArrayEquals(a.groupOfColumn(), b.groupOfColumn());
                    }
                }
            // the packed folder holds the codes instead of a dense copy of every linear
            long packed = folderBytes(dir.resolve("packed")), old = folderBytes(dir.resolve("old"));
            assertTrue(packed < old, packed + " bytes packed, " + old + " the old way");
            try (Model dense = io.lowbit.dsl.Lowbit.load(dir.resolve("packed").toString());
                    Scope s = Scope.open()) {
                assertArrayEquals(
                        q.model().linears().get(0).weight().toFloatArray(),
                        dense.linears().get(0).weight().toFloatArray(),
                        0f,
                        "load() opens packed folders as dense models");
            }
        }
    }
}
