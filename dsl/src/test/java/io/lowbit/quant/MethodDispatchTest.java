package io.lowbit.quant;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import io.lowbit.data.Calibration;
import io.lowbit.model.Linear;
import io.lowbit.model.Model;
import io.lowbit.model.Progress;
import io.lowbit.model.RandomModel;
import io.lowbit.torch.DType;
import io.lowbit.torch.Device;
import io.lowbit.torch.Scope;
import io.lowbit.torch.Tensor;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Every Method reaches its algorithm through Quantize's one switch, and the quantized model keeps
 * the very options that made it: in memory, in its label and fingerprint, and in a saved folder.
 */
class MethodDispatchTest {
    static Model m;
    static Calibration cal;

    @BeforeAll
    static void setUp() {
        m = RandomModel.create(RandomModel.preset("tiny"), "random:tiny", Device.cpu(), 11);
        Random r = new Random(5);
        List<int[]> seqs = new ArrayList<>();
        for (int s = 0; s < 6; s++) { // one length: TesseraQ's windows
            int[] t = new int[24];
            for (int i = 0; i < t.length; i++) t[i] = r.nextInt(m.config().vocabSize());
            seqs.add(t);
        }
        cal = Calibration.examples("random", seqs);
    }

    @AfterAll
    static void tearDown() {
        m.close();
    }

    static float[] values(Tensor t) {
        try (Scope s = Scope.open()) {
            return t.to(DType.F32).contiguous().toFloatArray();
        }
    }

    /** One record of each permitted type, TesseraQ's short enough for a unit test. */
    static List<Method> oneOfEach() {
        return List.of(
                Rtn.Options.defaults(),
                Gptq.Options.defaults(),
                Awq.Options.defaults(),
                Tesseraq.Options.defaults()
                        .noCheckpoints()
                        .thresholds(List.of(0.5))
                        .iterations(2)
                        .batch(2),
                Claq.Options.defaults());
    }

    @Test
    void everyPermittedMethodQuantizesAndTheModelKeepsExactlyTheRecordGiven() {
        Set<Class<?>> covered = oneOfEach().stream().map(Object::getClass).collect(Collectors.toSet());
        assertEquals(Set.of(Method.class.getPermittedSubclasses()), covered, "a Method this test does not run");
        Grid grid = Grid.bits(3);
        for (Method method : oneOfEach()) {
            try (QuantizedModel q = Quantize.run(m, grid, method, cal, null, Progress.NONE)) {
                assertSame(method, q.method(), method.name());
                for (Linear l : m.linears()) {
                    QuantizedLinear r = q.linear(l.name());
                    assertEquals(l.outFeatures() * l.inFeatures(), r.numel(), method.name() + " " + l.name());
                    assertTrue(r.codes().to(DType.F32).max().item() <= 7, method.name() + ": 3-bit codes");
                    assertFalse(
                            Arrays.equals(
                                    values(l.weight()),
                                    values(q.model().linear(l.name()).weight())),
                            method.name() + " changed " + l.name());
                }
            }
        }
    }

    @Test
    void gptqOptionsReachTheLayerMathsOfTheFirstLinear() {
        Grid grid = Grid.bits(3).groups(16);
        Gptq.Options ordered = Gptq.Options.defaults().actOrder().staticGroups();
        String first = "layers.0."
                + io.lowbit.model.BlockStructure.GROUPS.get(0).linears().get(0);
        // independently: block 0's first group reads the normed embeddings, untouched by any quantization
        Linear l = m.linear(first);
        Gptq.Result direct;
        try (Hessian h = new Hessian(l.inFeatures(), m.device())) {
            List<Tensor> xs = BlockLoop.embedded(m, cal, m.device());
            l.setInputHook(h::add);
            try {
                for (Tensor x : xs) m.runBlock(0, x).close();
            } finally {
                l.setInputHook(null);
                for (Tensor x : xs) x.close();
            }
            direct = Gptq.quantize(l.weight(), h.matrix(), grid, null, ordered);
        }
        try (QuantizedModel a = Quantize.run(m, grid, ordered, cal, null, Progress.NONE);
                QuantizedModel plain = Quantize.run(m, grid, Gptq.Options.defaults(), cal, null, Progress.NONE)) {
            assertEquals(ordered, a.method());
            assertArrayEquals(values(direct.codes()), values(a.linear(first).codes()), "codes");
            assertArrayEquals(values(direct.scales()), values(a.linear(first).scales()), "scales");
            assertArrayEquals(
                    values(direct.weight()), values(a.model().linear(first).weight()), "dense weight");
            assertArrayEquals(direct.groupOfColumn(), a.linear(first).groupOfColumn());
            // and the options made a difference: natural order gives other codes
            assertFalse(Arrays.equals(
                    values(a.linear(first).codes()), values(plain.linear(first).codes())));
            assertEquals("GPTQ act-order static-groups", ordered.label());
            assertEquals("GPTQ", plain.method().label());
            assertNotEquals(a.fingerprint(), plain.fingerprint(), "different options never share a cached result");
        } finally {
            direct.weight().close();
            direct.codes().close();
            direct.scales().close();
            direct.zeros().close();
        }
    }

    @Test
    void optionsSurviveSaveAndLoadAndOldFilesLoadWithDefaults(@TempDir Path dir) throws IOException {
        Gptq.Options o = Gptq.Options.defaults().actOrder().blockSize(64).percDamp(0.02);
        try (QuantizedModel q = Quantize.run(m, Grid.bits(4), o, cal, null, Progress.NONE)) {
            q.save(dir);
            try (QuantizedModel back = QuantizedModel.load(dir)) {
                assertEquals(o, back.method());
                assertEquals(q.label(), back.label());
            }
            Path manifest = dir.resolve("quantization.json");
            JsonObject j = JsonParser.parseString(Files.readString(manifest)).getAsJsonObject();
            assertEquals("GPTQ", j.get("method").getAsString(), "tables and older readers still see the name");
            j.remove("options"); // a file written before options were saved
            Files.writeString(manifest, j.toString());
            try (QuantizedModel old = QuantizedModel.load(dir)) {
                assertEquals(Gptq.Options.defaults(), old.method());
            }
        }
        // every record's components, TesseraQ's list, enum and path included
        List<Method> all = new ArrayList<>(oneOfEach());
        all.add(Tesseraq.Options.defaults()
                .tenRounds()
                .init(Tesseraq.Init.CLIP)
                .checkpoints(dir.resolve("ck"))
                .seed(7));
        all.add(Tesseraq.Options.defaults());
        all.add(Claq.Options.defaults()
                .adaptive(2.1)
                .reserve(0.02, 0.005)
                .exact()
                .seed(3));
        for (Method method : all) {
            JsonObject json = JsonParser.parseString(
                            QuantizedModel.optionsJson(method).toString())
                    .getAsJsonObject();
            assertEquals(method, QuantizedModel.options(method.name(), json), method.label());
        }
        assertThrows(
                io.lowbit.model.CheckpointException.class, () -> QuantizedModel.options("CLAQ?", new JsonObject()));
    }

    @Test
    void labelsNameTheOptionsThatDecideTheResult() {
        assertEquals("RTN", Rtn.Options.defaults().label());
        assertEquals("AWQ", Awq.Options.defaults().label());
        assertEquals(
                "GPTQ block-size 64 no-fused-sweep",
                Gptq.Options.defaults().blockSize(64).fusedSweep(false).label());
        // where checkpoints go and where chains live do not change the codes
        assertEquals(
                "TESSERAQ",
                Tesseraq.Options.defaults().noCheckpoints().hostChains(true).label());
        assertEquals(
                "TESSERAQ iterations 50 init CLIP",
                Tesseraq.Options.defaults()
                        .iterations(50)
                        .init(Tesseraq.Init.CLIP)
                        .label());
        assertEquals(
                "TESSERAQ ten-rounds iterations 20",
                Tesseraq.Options.defaults().tenRounds().iterations(20).label());
        assertEquals(
                "TESSERAQ thresholds [0.5, 0.2] batch 2",
                Tesseraq.Options.defaults()
                        .thresholds(List.of(0.5, 0.2))
                        .batch(2)
                        .label());
    }

    @Test
    void awqAndTesseraqRefuseAMask() {
        try (Mask none = new Mask(java.util.Map.of())) {
            for (Method method :
                    List.of(Awq.Options.defaults(), Tesseraq.Options.defaults().noCheckpoints())) {
                IllegalArgumentException e = assertThrows(
                        IllegalArgumentException.class,
                        () -> Quantize.run(m, Grid.bits(3), method, cal, none, Progress.NONE));
                assertTrue(e.getMessage().contains("does not keep weights in 16 bits"), e.getMessage());
            }
        }
    }
}
