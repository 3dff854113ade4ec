package io.lowbit.torch;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.api.Test;

/** Values survive every dtype and device conversion that can hold them exactly. */
class DTypeAndDeviceTest {
    // exactly representable in every floating dtype, including bf16 (8 significant bits)
    private static final double[] EXACT = {0, 1, -2, 0.5, -0.75, 3, 96, -1024};

    @Test
    void floatingDtypesRoundTripExactValues() {
        for (DType d : new DType[] {DType.F64, DType.F32, DType.F16, DType.BF16}) {
            try (Scope s = Scope.open()) {
                Tensor t = Torch.tensor(EXACT, EXACT.length).to(d);
                assertEquals(d, t.dtype());
                assertArrayEquals(EXACT, t.toDoubleArray(), 0, d.toString());
                assertArrayEquals(EXACT, t.to(DType.F32).to(DType.F64).toDoubleArray(), 0, d.toString());
            }
        }
    }

    @Test
    void bf16RoundsToEightSignificantBits() {
        try (Scope s = Scope.open()) {
            // 1 + 2^-8 is a tie between 1 and 1 + 2^-7 in bf16: round half to even keeps 1
            double[] got = Torch.tensor(new double[] {1 + Math.pow(2, -8), 1 + 3 * Math.pow(2, -8)}, 2)
                    .to(DType.BF16)
                    .toDoubleArray();
            assertArrayEquals(new double[] {1, 1 + Math.pow(2, -6)}, got, 0);
        }
    }

    @Test
    void integerAndBoolDtypesRoundTrip() {
        try (Scope s = Scope.open()) {
            long[] big = {Long.MAX_VALUE, Long.MIN_VALUE, 0, -1};
            assertArrayEquals(big, Torch.tensor(big, 4).toLongArray());
            int[] ints = {Integer.MAX_VALUE, -7, 0};
            assertArrayEquals(ints, Torch.tensor(ints, 3).toIntArray());
            assertEquals(DType.I32, Torch.tensor(ints, 3).dtype());
            assertArrayEquals(
                    new long[] {-128, 127, 5},
                    Torch.tensor(new byte[] {-128, 127, 5}, DType.I8, 3).toLongArray());
            assertArrayEquals(
                    new long[] {128, 255, 5},
                    Torch.tensor(new byte[] {-128, -1, 5}, DType.U8, 3).toLongArray());
            boolean[] flags = {true, false, true};
            assertArrayEquals(flags, Torch.tensor(flags, 3).toBooleanArray());
            assertArrayEquals(
                    new long[] {3, -3},
                    Torch.tensor(new double[] {3.9, -3.9}, 2).to(DType.I64).toLongArray(),
                    "float to int truncates toward zero");
        }
    }

    @Test
    void deviceRoundTripKeepsValuesAndReportsPlacement() {
        try (Scope s = Scope.open()) {
            Device target = Device.defaultDevice();
            Tensor cpu = Torch.tensor(EXACT, 2, 4).to(Device.CPU);
            assertEquals(Device.CPU, cpu.device());
            Tensor there = cpu.to(target);
            assertEquals(target, there.device());
            assertArrayEquals(EXACT, there.to(Device.CPU).toDoubleArray(), 0);
            Tensor bf = cpu.to(target, DType.BF16);
            assertEquals(DType.BF16, bf.dtype());
            assertEquals(target, bf.device());
            assertArrayEquals(new long[] {2, 4}, bf.shape());
            assertArrayEquals(new long[] {4, 1}, bf.strides());
            assertEquals(8, bf.numel());
            assertEquals(2, bf.dim());
        }
    }

    @Test
    void parsingNamesAndRejectingNonsense() {
        assertEquals(DType.BF16, DType.parse("bfloat16"));
        assertEquals(DType.F16, DType.parse("fp16"));
        assertEquals(Device.cuda(1), Device.parse("cuda:1"));
        assertEquals(Device.CPU, Device.parse("CPU"));
        assertThrows(IllegalArgumentException.class, () -> DType.parse("f8"));
        assertThrows(IllegalArgumentException.class, () -> Device.parse("tpu"));
        assertThrows(IllegalArgumentException.class, () -> Torch.tensor(new float[] {1, 2, 3}, 2, 2));
    }
}
