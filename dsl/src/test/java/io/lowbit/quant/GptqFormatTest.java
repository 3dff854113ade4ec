package io.lowbit.quant;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import io.lowbit.TestData;
import io.lowbit.data.Calibration;
import io.lowbit.eval.Perplexity;
import io.lowbit.model.Config;
import io.lowbit.model.Linear;
import io.lowbit.model.Model;
import io.lowbit.model.Models;
import io.lowbit.model.Progress;
import io.lowbit.model.RandomModel;
import io.lowbit.model.Safetensors;
import io.lowbit.torch.DType;
import io.lowbit.torch.Device;
import io.lowbit.torch.Scope;
import io.lowbit.torch.Tensor;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The GPTQ export read back by an independent Python reader (dsl/src/test/python/read_gptq.py, numpy
 * and the safetensors layout only), the bit packing, Lowbit's own import, and the refusals.
 */
class GptqFormatTest {
    static final int PADDED = 192; // stories260K's 172 hidden units do not fill int32 words; 192 do
    static Model fp;
    static Calibration cal;
    static String val;

    /**
     * stories260K with its MLP padded from 172 to 192 units (zero gate/up rows, zero down columns): the
     * same function, at shapes the GPTQ format can pack.
     */
    @BeforeAll
    static void setUp() throws IOException {
        try (Model s = Models.load(
                TestData.stories260K().toString(), Models.Options.defaults().on(Device.CPU))) {
            Config c = s.config();
            Config p = new Config(
                    c.architecture(),
                    c.vocabSize(),
                    c.hiddenSize(),
                    PADDED,
                    c.numLayers(),
                    c.numHeads(),
                    c.numKvHeads(),
                    c.headDim(),
                    c.maxPositions(),
                    c.ropeTheta(),
                    c.ropeScaling(),
                    c.rmsNormEps(),
                    c.tieWordEmbeddings(),
                    c.bosId(),
                    c.eosId(),
                    DType.F32);
            fp = RandomModel.create(p, "stories260K-padded", Device.CPU, 0, s.tokenizer());
            try (Scope sc = Scope.open()) {
                var src = s.weights();
                for (var e : fp.weights().entrySet()) {
                    Tensor from = src.get(e.getKey()), to = e.getValue();
                    long n = c.intermediateSize();
                    if (e.getKey().endsWith("gate_proj.weight") || e.getKey().endsWith("up_proj.weight")) {
                        to.zeroInPlace().narrow(0, 0, n).copyFrom(from);
                    } else if (e.getKey().endsWith("down_proj.weight")) {
                        to.zeroInPlace().narrow(1, 0, n).copyFrom(from);
                    } else {
                        to.copyFrom(from);
                    }
                }
            }
            String train = Files.readString(TestData.shipped("text/tinystories_train_excerpt.txt"));
            cal = Calibration.firstWindows("tinystories-train", fp.tokenizer(), train, 16, 256);
            val = Files.readString(TestData.shipped("text/tinystories_val.txt"));
            assertEquals(ppl(s), ppl(fp), 1e-4 * ppl(s), "padding with zero units leaves the function as it is");
        }
    }

    @AfterAll
    static void tearDown() {
        fp.close();
    }

    static double ppl(Model m) {
        return Perplexity.of(m, "val", val, new Perplexity.Options(256, 2, 8), Progress.NONE)
                .perplexity();
    }

    // ---------------------------------------------------------------- packing

    @Test
    void packingRoundTripsForEveryWidthAndOddLengths() {
        Random r = new Random(7);
        for (int bits : new int[] {2, 3, 4, 8})
            for (int n : new int[] {1, 7, 10, 11, 31, 32, 33, 100, 1000}) {
                int[] v = new int[n];
                for (int i = 0; i < n; i++) v[i] = i % 5 == 0 ? (1 << bits) - 1 : r.nextInt(1 << bits);
                int[] w = GptqFormat.pack(v, bits);
                assertEquals((n * bits + 31) / 32, w.length);
                assertArrayEquals(v, GptqFormat.unpack(w, bits, n), bits + " bits, " + n + " values");
            }
    }

    @Test
    void packingFollowsTheFormatsLayout() {
        // 4 bits: eight values a word, the first in the low nibble
        assertArrayEquals(
                new int[] {0x76543210, 0xfedcba98},
                GptqFormat.pack(new int[] {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}, 4));
        assertArrayEquals(new int[] {0x4030201}, GptqFormat.pack(new int[] {1, 2, 3, 4}, 8));
        assertArrayEquals(new int[] {0b11100100}, GptqFormat.pack(new int[] {0, 1, 2, 3}, 2));
        // 3 bits: 32 values in three words; value 10 has two bits in word 0 and one in word 1, value 21
        // one bit in word 1 and two in word 2
        int[] v = new int[32];
        v[10] = 0b101;
        int[] w = GptqFormat.pack(v, 3);
        assertArrayEquals(new int[] {0b01 << 30, 0b1, 0}, w);
        v[10] = 0;
        v[21] = 0b110;
        assertArrayEquals(new int[] {0, 0, 0b11}, GptqFormat.pack(v, 3));
        v[21] = 0;
        v[31] = 7;
        assertArrayEquals(new int[] {0, 0, 7 << 29}, GptqFormat.pack(v, 3));
    }

    @Test
    void aZeroOfZeroStoredAsV1WrapsToTheLargestCodeAndLeavesItsNeighbours() {
        for (int bits : new int[] {2, 3, 4, 8}) {
            int[] w = new int[3];
            GptqFormat.put(w, 0, 1, 1, -1, bits); // v1 stores zero − 1; a zero of 0 stores −1
            assertEquals(
                    (1 << bits) - 1, GptqFormat.get(w, 0, 1, 1, bits), bits + " bits: −1 is all ones in its field");
            assertEquals(0, GptqFormat.get(w, 0, 1, 0, bits));
            assertEquals(0, GptqFormat.get(w, 0, 1, 2, bits));
        }
    }

    // ---------------------------------------------------------------- export, read by Python

    /** Lowbit's grid with the scale rounded to fp16, as the format stores it: fp16(s)·(q − z) in float32. */
    static float[] expected(QuantizedLinear q) {
        int out = (int) q.codes().size(0),
                in = (int) q.codes().size(1),
                groups = (int) q.scales().size(1);
        int[] codes = q.codes().to(DType.I32).toIntArray();
        float[] s = q.scales().toFloatArray(), z = q.zeros().toFloatArray(), w = new float[out * in];
        for (int j = 0; j < out; j++)
            for (int i = 0; i < in; i++) {
                int g = q.groupOfColumn()[i];
                float s16 = Float.float16ToFloat(Float.floatToFloat16(s[j * groups + g]));
                w[j * in + i] = s16 * (codes[j * in + i] - z[j * groups + g]);
            }
        return w;
    }

    /**
     * The first Python with numpy: Debian's (install.sh puts numpy there for the tests), else the one
     * on PATH (a GPU server's, which has torch and numpy). $LOWBIT_PYTHON overrides.
     */
    static final String PYTHON = pythonWithNumpy();

    private static String pythonWithNumpy() {
        String given = System.getenv("LOWBIT_PYTHON");
        if (given != null && !given.isBlank()) return given;
        for (String py : new String[] {"/usr/bin/python3", "python3"}) {
            try {
                Process p = new ProcessBuilder(py, "-c", "import numpy")
                        .redirectErrorStream(true)
                        .start();
                p.getInputStream().readAllBytes();
                if (p.waitFor() == 0) return py;
            } catch (IOException | InterruptedException e) {
                // not this one
            }
        }
        return "/usr/bin/python3"; // its error then names the missing module
    }

    static Path python(Path folder) throws IOException, InterruptedException {
        Path out = folder.resolve("python-dequantized.safetensors");
        Path script = TestData.root().resolve("dsl/src/test/python/read_gptq.py");
        Process p = new ProcessBuilder(PYTHON, script.toString(), folder.toString(), out.toString())
                .redirectErrorStream(true)
                .start();
        String log = new String(p.getInputStream().readAllBytes());
        assertEquals(0, p.waitFor(), "the Python reader failed:\n" + log);
        return out;
    }

    static JsonObject quantizationConfig(Path folder) throws IOException {
        return JsonParser.parseString(Files.readString(folder.resolve("config.json")))
                .getAsJsonObject()
                .getAsJsonObject("quantization_config");
    }

    /**
     * Python's dequantized weights equal fp16(s)·(q − z) exactly, and Lowbit's dense weights s·(q − z)
     * within what rounding the scale to fp16 moves them: |q − z|·|s − fp16(s)| plus one float32 rounding.
     */
    static void assertPythonReadsLowbitsWeights(QuantizedModel q, Path folder) throws Exception {
        Path out = python(folder);
        try (Safetensors st = Safetensors.open(out);
                Scope s = Scope.open()) {
            assertEquals(q.model().linears().size(), st.names().size());
            for (Linear l : q.model().linears()) {
                QuantizedLinear ql = q.linear(l.name());
                float[] py = st.load(GptqFormat.hfName(l.name()) + ".weight", Device.CPU)
                        .toFloatArray();
                float[] exact = expected(ql);
                assertArrayEquals(exact, py, 0f, l.name() + ": Python's reading of the export");
                float[] dense = l.weight().to(DType.F32).toFloatArray();
                int in = (int) ql.codes().size(1), groups = (int) ql.scales().size(1);
                float[] sc = ql.scales().toFloatArray(), z = ql.zeros().toFloatArray();
                int[] codes = ql.codes().to(DType.I32).toIntArray();
                for (int k = 0; k < dense.length; k++) {
                    int j = k / in, g = ql.groupOfColumn()[k % in];
                    float scale = sc[j * groups + g];
                    double bound = Math.abs(codes[k] - z[j * groups + g])
                                    * Math.abs(scale - Float.float16ToFloat(Float.floatToFloat16(scale)))
                            + Math.ulp(Math.abs(dense[k]))
                            + Math.ulp(Math.abs(py[k]));
                    if (Math.abs(py[k] - dense[k]) > bound)
                        throw new AssertionError(l.name() + "[" + k + "]: Python " + py[k] + ", Lowbit " + dense[k]
                                + ", bound " + bound);
                }
            }
        }
    }

    @Test
    void pythonReadsRtnExportsAtEveryWidthPerRowAndInGroups(@TempDir Path dir) throws Exception {
        for (int bits : new int[] {2, 3, 4, 8})
            for (int group : new int[] {-1, 32}) {
                Grid grid = Grid.bits(bits).groups(group);
                try (QuantizedModel q = Quantize.run(fp, grid, Rtn.Options.defaults(), null, null, Progress.NONE)) {
                    Path f = dir.resolve("rtn-" + bits + "-" + group);
                    Export.GPTQ_FORMAT.write(q, f);
                    JsonObject qc = quantizationConfig(f);
                    assertEquals("gptq", qc.get("quant_method").getAsString());
                    assertEquals(bits, qc.get("bits").getAsInt());
                    assertEquals(group, qc.get("group_size").getAsInt());
                    assertFalse(qc.get("desc_act").getAsBoolean());
                    assertTrue(Files.isRegularFile(f.resolve("tokenizer.bin")), "the tokenizer goes along");
                    assertPythonReadsLowbitsWeights(q, f);
                }
            }
    }

    @Test
    void pythonReadsGptqWithActOrderWhoseGroupsAreNotMonotone(@TempDir Path dir) throws Exception {
        Grid grid = Grid.bits(3).groups(32);
        try (QuantizedModel q = Quantize.run(fp, grid, Gptq.Options.defaults().actOrder(), cal, null, Progress.NONE);
                QuantizedModel sym =
                        Quantize.run(fp, Grid.bits(4).symmetric(), Gptq.Options.defaults(), cal, null, Progress.NONE)) {
            Export.GPTQ_FORMAT.write(q, dir.resolve("act"));
            assertTrue(quantizationConfig(dir.resolve("act")).get("desc_act").getAsBoolean(), "g_idx is not i / 32");
            assertPythonReadsLowbitsWeights(q, dir.resolve("act"));
            Export.GPTQ_FORMAT.write(sym, dir.resolve("sym"));
            JsonObject qc = quantizationConfig(dir.resolve("sym"));
            assertTrue(qc.get("sym").getAsBoolean());
            assertEquals("gptq", qc.get("checkpoint_format").getAsString(), "symmetric zeros are 8: v1 holds them");
            assertPythonReadsLowbitsWeights(sym, dir.resolve("sym"));
        }
    }

    @Test
    void zerosOfZeroGoOutAsGptqV2(@TempDir Path dir) throws Exception {
        try (Model m = fp.copy()) {
            Linear l = m.linear("layers.0.mlp.up");
            l.setWeight(l.weight().abs().escape()); // no negative weight: the range starts at 0, so the zero is 0
            try (QuantizedModel q =
                    Quantize.run(m, Grid.bits(4).groups(32), Rtn.Options.defaults(), null, null, Progress.NONE)) {
                assertEquals(0f, q.linear("layers.0.mlp.up").zeros().min().item(), 0);
                Export.GPTQ_FORMAT.write(q, dir);
                assertEquals(
                        "gptq_v2",
                        quantizationConfig(dir).get("checkpoint_format").getAsString());
                assertPythonReadsLowbitsWeights(q, dir);
            }
        }
    }

    @Test
    void pythonReadsAwqAndRaggedGroupsAreRefused(@TempDir Path dir) throws Exception {
        try (QuantizedModel q =
                Quantize.run(fp, Grid.bits(4).groups(32), Awq.Options.defaults(), cal, null, Progress.NONE)) {
            Export.GPTQ_FORMAT.write(q, dir.resolve("awq"));
            assertPythonReadsLowbitsWeights(q, dir.resolve("awq"));
        }
        // llmc's grid pads the last group of 64 columns in groups of 48: no GPTQ group_size says that
        try (QuantizedModel q =
                Quantize.run(fp, Grid.bits(4).groups(48), Awq.Options.defaults(), cal, null, Progress.NONE)) {
            var e = assertThrows(IllegalArgumentException.class, () -> Export.GPTQ_FORMAT.write(q, dir.resolve("r")));
            assertTrue(e.getMessage().contains("ragged") && e.getMessage().contains("HF_DENSE"), e.getMessage());
        }
    }

    // ---------------------------------------------------------------- import

    @Test
    void importingTheExportGivesTheSameCodesWeightsAndPerplexity(@TempDir Path dir) throws Exception {
        try (QuantizedModel q = Quantize.run(
                fp, Grid.bits(4).groups(32), Gptq.Options.defaults().actOrder(), cal, null, Progress.NONE)) {
            Export.GPTQ_FORMAT.write(q, dir);
            try (QuantizedModel back = GptqFormat.load(dir, Device.CPU)) {
                assertEquals(q.grid().bits(), back.grid().bits());
                assertEquals(32, back.grid().groupSize());
                for (Linear l : q.model().linears()) {
                    QuantizedLinear a = q.linear(l.name()), b = back.linear(l.name());
                    assertArrayEquals(
                            a.codes().to(DType.I32).toIntArray(),
                            b.codes().to(DType.I32).toIntArray(),
                            l.name());
                    assertArrayEquals(a.zeros().toFloatArray(), b.zeros().toFloatArray(), 0f, l.name());
                    assertArrayEquals(a.groupOfColumn(), b.groupOfColumn(), l.name());
                    assertArrayEquals(
                            expected(a), back.model().linear(l.name()).weight().toFloatArray(), 0f, l.name());
                }
                // weights moved by fp16 rounding of scales and norms (relative 2^-11 at most) move perplexity by
                // far less than 0.1 %; a misread group, zero offset or bit order moves it by orders of magnitude
                double mine = ppl(q.model()), theirs = ppl(back.model());
                System.out.printf(
                        java.util.Locale.ROOT,
                        "stories260K (padded) GPTQ W4 g32 act-order: Lowbit %.4f, " + "GPTQ-format import %.4f%n",
                        mine,
                        theirs);
                assertEquals(mine, theirs, 1e-3 * mine);
            }
            try (Model dense = io.lowbit.dsl.Lowbit.load(dir.toString())) {
                assertEquals(DType.F32, dense.dtype());
                assertEquals(ppl(q.model()), ppl(dense), 1e-3 * ppl(q.model()), "load() opens GPTQ folders too");
            }
        }
    }

    // ---------------------------------------------------------------- refusals and the other formats

    @Test
    void whatTheFormatCannotHoldIsRefusedPointingToHfDense(@TempDir Path dir) {
        try (Model tiny = Models.load(
                        "random:tiny", Models.Options.defaults().on(Device.CPU).as(DType.F32));
                QuantizedModel q =
                        Quantize.run(tiny, Grid.bits(4), Rtn.Options.defaults(), null, null, Progress.NONE)) {
            var e = assertThrows(IllegalArgumentException.class, () -> Export.GPTQ_FORMAT.write(q, dir.resolve("a")));
            assertTrue(e.getMessage().contains("172") && e.getMessage().contains("HF_DENSE"), e.getMessage());
        }
        try (Scope s = Scope.open()) {
            java.util.Map<String, Tensor> kept = new java.util.HashMap<>();
            for (Linear l : fp.linears()) {
                Tensor k = l.weight().abs().gt(0.5); // a few large weights kept in 16 bits
                kept.put(l.name(), k);
            }
            kept.put(
                    "layers.0.attn.q",
                    fp.linear("layers.0.attn.q").weight().abs().ge(0.0)); // at least one kept
            try (QuantizedModel q =
                    Quantize.run(fp, Grid.bits(4), Rtn.Options.defaults(), null, new Mask(kept), Progress.NONE)) {
                assertTrue(q.kept() > 0);
                var e = assertThrows(
                        IllegalArgumentException.class, () -> Export.GPTQ_FORMAT.write(q, dir.resolve("b")));
                assertTrue(
                        e.getMessage().contains("kept in 16 bits")
                                && e.getMessage().contains("HF_DENSE"),
                        e.getMessage());
                assertFalse(Files.exists(dir.resolve("b")), "nothing written when refused");
            }
        }
    }

    @Test
    void hfDenseIsTheEvaluatedModelInBf16WithItsTokenizer(@TempDir Path dir) {
        try (QuantizedModel q = Quantize.run(fp, Grid.bits(3), Rtn.Options.defaults(), null, null, Progress.NONE)) {
            Export.HF_DENSE.write(q, dir);
            assertTrue(Files.isRegularFile(dir.resolve("tokenizer.bin")));
            try (Model back = Models.load(
                            dir.toString(), Models.Options.defaults().on(Device.CPU));
                    Scope s = Scope.open()) {
                assertEquals(DType.BF16, back.dtype());
                for (var e : q.model().weights().entrySet())
                    assertArrayEquals(
                            e.getValue().to(DType.BF16).to(DType.F32).toFloatArray(),
                            back.weights().get(e.getKey()).to(DType.F32).toFloatArray(),
                            0f,
                            e.getKey());
            }
        }
    }
}
