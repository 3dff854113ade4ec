package io.lowbit.torch;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** libtorch's failures become Java exceptions with libtorch's message, and the JVM keeps working. */
class ErrorsTest {
    @Test
    void badShapesCarryLibtorchsMessage() {
        try (Scope s = Scope.open()) {
            Tensor a = Torch.zeros(2, 3), b = Torch.zeros(4, 5);
            TorchException e = assertThrows(TorchException.class, () -> a.mm(b));
            assertTrue(e.getMessage().contains("2x3") && e.getMessage().contains("4x5"), e.getMessage());
            assertThrows(TorchException.class, () -> a.view(7));
            // the engine still works afterwards
            assertEquals(6.0, Torch.ones(2, 3).sum().item());
        }
    }

    @Test
    void badDtypesAreRefusedWithTheReason() {
        try (Scope s = Scope.open()) {
            Tensor ints = Torch.tensor(new long[] {1, 2, 3, 4}, 2, 2);
            TorchException e = assertThrows(TorchException.class, () -> Torch.choleskyEx(ints, false));
            assertTrue(
                    e.getMessage().toLowerCase().contains("long")
                            || e.getMessage().toLowerCase().contains("float"),
                    e.getMessage());
            assertThrows(TorchException.class, () -> Torch.zeros(2, 2).mm(ints));
        }
    }

    @Test
    void genericCallExplainsUnknownOperatorsAndMissingArguments() {
        TorchException unknown = assertThrows(TorchException.class, () -> Torch.call("aten::no_such_op", ""));
        assertTrue(unknown.getMessage().contains("aten::no_such_op"), unknown.getMessage());
        TorchException missing = assertThrows(TorchException.class, () -> Torch.call("aten::mm", ""));
        assertTrue(
                missing.getMessage().contains("missing argument")
                        && missing.getMessage().contains("self"),
                missing.getMessage());
        try (Scope s = Scope.open()) {
            Tensor a = Torch.ones(2);
            TorchException tooMany = assertThrows(TorchException.class, () -> Torch.call("aten::neg", "", a, a, a));
            assertTrue(tooMany.getMessage().contains("at most 1"), tooMany.getMessage());
            assertThrows(IllegalArgumentException.class, () -> Torch.call("aten::neg", "", new Object()));
        }
        assertEquals(0, Torch.liveTensors() - Torch.liveTensors());
    }

    @Test
    void aFailedCallLeaksNothing() {
        MemoryTest.settleCleaner();
        long before = Torch.liveTensors();
        try (Scope s = Scope.open()) {
            Tensor a = Torch.zeros(2, 3);
            for (int i = 0; i < 100; i++) assertThrows(TorchException.class, () -> a.mm(a));
        }
        assertEquals(before, Torch.liveTensors());
    }

    @Test
    void aClosedTensorCannotBeUsed() {
        Tensor t = Torch.ones(2);
        t.close();
        t.close(); // twice is harmless
        IllegalStateException e = assertThrows(IllegalStateException.class, t::sum);
        assertTrue(e.getMessage().contains("after close"));
        assertEquals("Tensor[closed]", t.toString());
    }

    @Test
    void aMissingBridgeNamesWhatToInstall() {
        List<Path> nowhere = BridgeLocator.candidates(
                null, Map.of("LOWBIT_HOME", "/nonexistent/lowbit"), Path.of("/nonexistent/cwd"));
        NativeLibraryMissing e = assertThrows(NativeLibraryMissing.class, () -> BridgeLocator.locate(nowhere));
        assertTrue(e.getMessage().contains("install/install.sh"), e.getMessage());
        assertTrue(e.getMessage().contains("libtorch-dev"), e.getMessage());
        assertTrue(e.getMessage().contains("/nonexistent/lowbit/native/liblowbit_bridge.so"), e.getMessage());
    }

    @Test
    void theSystemPropertyComesFirst() {
        List<Path> c =
                BridgeLocator.candidates("/opt/x/lib.so", Map.of("LOWBIT_NATIVE_LIB", "/env/lib.so"), Path.of("/a/b"));
        assertEquals(Path.of("/opt/x/lib.so"), c.get(0));
        assertEquals(Path.of("/env/lib.so"), c.get(1));
        assertEquals(Path.of("/a/b/kernels-gpu/build/liblowbit_bridge.so"), c.get(2));
    }
}
