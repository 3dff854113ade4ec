package io.lowbit.torch;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import org.junit.jupiter.api.Test;

/** CUDA statistics and our own kernels; the CUDA parts run only where a GPU is present. */
class CudaTest {
    @Test
    void absAccumulateAddsMagnitudesOnAnyDevice() {
        try (Scope s = Scope.open()) {
            for (DType d : new DType[] {DType.F32, DType.BF16, DType.F16}) {
                Tensor acc = Torch.full(1, DType.F32, Device.defaultDevice(), 2, 3);
                Tensor g =
                        Torch.tensor(new double[] {-1, 2, -0.5, 0, 4, -8}, 2, 3).to(Device.defaultDevice(), d);
                acc.absAccumulateInPlace(g).absAccumulateInPlace(g);
                assertArrayEquals(new double[] {3, 5, 2, 1, 9, 17}, acc.toDoubleArray(), 0, d.toString());
            }
            assertThrows(
                    TorchException.class,
                    () -> Torch.zeros(DType.F64, Device.defaultDevice(), 2).absAccumulateInPlace(Torch.zeros(2)));
        }
    }

    @Test
    void absAccumulateKernelAgreesWithAtenOnLargeTensors() {
        assumeTrue(Cuda.isAvailable(), "no CUDA device");
        try (Scope s = Scope.open()) {
            Device gpu = Device.cuda(0);
            Tensor g = Torch.randn(DType.BF16, gpu, 4096, 1000);
            Tensor acc = Torch.zeros(DType.F32, gpu, 4096, 1000)
                    .absAccumulateInPlace(g)
                    .absAccumulateInPlace(g);
            Tensor reference = g.to(DType.F32).abs().mul(2);
            assertEquals(0.0, acc.sub(reference).abs().max().item(), 0.0);
        }
    }

    @Test
    void memoryStatisticsFollowAllocations() {
        assumeTrue(Cuda.isAvailable(), "no CUDA device");
        Cuda.synchronize(0);
        long before = Cuda.memoryAllocated(0);
        Cuda.resetPeakMemory(0);
        try (Tensor big = Torch.zeros(DType.F32, Device.cuda(0), 1 << 20)) {
            assertTrue(Cuda.memoryAllocated(0) - before >= 4L << 20);
        }
        assertEquals(before, Cuda.memoryAllocated(0));
        assertTrue(Cuda.maxMemoryAllocated(0) - before >= 4L << 20);
        Cuda.emptyCache();
        assertThrows(TorchException.class, () -> Cuda.memoryAllocated(Cuda.deviceCount()));
    }

    @Test
    void withoutCudaTheDefaultDeviceIsTheCpu() {
        assumeTrue(!Cuda.isAvailable()
                && System.getProperty("lowbit.device") == null
                && System.getenv("LOWBIT_DEVICE") == null);
        assertEquals(Device.CPU, Device.defaultDevice());
        assertThrows(TorchException.class, () -> Device.setDefault(Device.cuda(0)));
    }
}
