package io.lowbit.torch;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/** CUDA facts and memory statistics of the caching allocator (like torch.cuda.*). */
public final class Cuda {
    private Cuda() {}

    private static volatile int deviceCount = -1;

    /** Number of visible CUDA devices; 0 on a CPU-only machine or a bridge built without CUDA. */
    public static int deviceCount() {
        int n = deviceCount;
        if (n < 0) {
            try {
                Frame f = Frame.get();
                Bridge.check((int) Bridge.CUDA_DEVICE_COUNT.invokeExact(f.scratch));
                n = f.scratch.get(JAVA_INT, 0);
            } catch (Throwable t) {
                throw Bridge.rethrow(t);
            }
            deviceCount = n;
        }
        return n;
    }

    public static boolean isAvailable() {
        return deviceCount() > 0;
    }

    public static void synchronize(int device) {
        try {
            Bridge.check((int) Bridge.CUDA_SYNCHRONIZE.invokeExact(device));
        } catch (Throwable t) {
            throw Bridge.rethrow(t);
        }
    }

    public static void synchronize() {
        synchronize(0);
    }

    /** Bytes held by tensors on the device now. */
    public static long memoryAllocated(int device) {
        try {
            Frame f = Frame.get();
            Bridge.check((int) Bridge.CUDA_MEMORY_ALLOCATED.invokeExact(device, f.scratch));
            return f.scratch.get(JAVA_LONG, 0);
        } catch (Throwable t) {
            throw Bridge.rethrow(t);
        }
    }

    /** The most bytes held by tensors since start or the last {@link #resetPeakMemory}. */
    public static long maxMemoryAllocated(int device) {
        try {
            Frame f = Frame.get();
            Bridge.check((int) Bridge.CUDA_MAX_MEMORY_ALLOCATED.invokeExact(device, f.scratch));
            return f.scratch.get(JAVA_LONG, 0);
        } catch (Throwable t) {
            throw Bridge.rethrow(t);
        }
    }

    public static void resetPeakMemory(int device) {
        try {
            Bridge.check((int) Bridge.CUDA_RESET_PEAK_MEMORY.invokeExact(device));
        } catch (Throwable t) {
            throw Bridge.rethrow(t);
        }
    }

    /** Returns cached, unused blocks to the driver (like torch.cuda.empty_cache()). */
    public static void emptyCache() {
        try {
            Bridge.check((int) Bridge.CUDA_EMPTY_CACHE.invokeExact());
        } catch (Throwable t) {
            throw Bridge.rethrow(t);
        }
    }

    /** Bytes a new tensor on the device can still get (the driver's free memory plus the allocator's cache). */
    public static long freeMemory(int device) {
        try {
            Frame f = Frame.get();
            Bridge.check((int) Bridge.CUDA_MEM_GET_INFO.invokeExact(device, f.scratch, f.scratch.asSlice(8)));
            return f.scratch.get(JAVA_LONG, 0);
        } catch (Throwable t) {
            throw Bridge.rethrow(t);
        }
    }
}
