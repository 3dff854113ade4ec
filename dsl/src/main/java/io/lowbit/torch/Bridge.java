package io.lowbit.torch;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_DOUBLE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.nio.file.Path;

/**
 * The downcall handles into liblowbit_bridge.so (kernels-gpu/include/lowbit_bridge.h), one per C
 * function. If the library cannot be loaded, every handle throws the same {@link
 * NativeLibraryMissing} explaining what to install, so a failed load never poisons class loading.
 */
final class Bridge {
    private Bridge() {}

    static final NativeLibraryMissing LOAD_ERROR;
    private static final SymbolLookup SYMBOLS;
    private static final Linker LINKER = Linker.nativeLinker();

    static {
        SymbolLookup symbols = null;
        NativeLibraryMissing error = null;
        Path library = null;
        try {
            library = BridgeLocator.locate(
                    BridgeLocator.candidates(System.getProperty("lowbit.native.lib"), System.getenv(), Path.of("")));
            symbols = SymbolLookup.libraryLookup(library, Arena.global());
        } catch (NativeLibraryMissing e) {
            error = e;
        } catch (RuntimeException e) {
            error = new NativeLibraryMissing(BridgeLocator.loadFailure(library, e), e);
        }
        SYMBOLS = symbols;
        LOAD_ERROR = error;
    }

    private static MethodHandle fn(String name, FunctionDescriptor descriptor) {
        MethodType type = descriptor.toMethodType();
        if (SYMBOLS == null) {
            MethodHandle thrower = MethodHandles.throwException(type.returnType(), NativeLibraryMissing.class)
                    .bindTo(LOAD_ERROR);
            return MethodHandles.dropArguments(thrower, 0, type.parameterList());
        }
        MemorySegment symbol = SYMBOLS.find(name)
                .orElseThrow(() -> new NativeLibraryMissing(
                        "the native bridge lacks " + name
                                + ": it is older than this Lowbit; rebuild with `bash install/install.sh`",
                        null));
        return LINKER.downcallHandle(symbol, descriptor);
    }

    private static FunctionDescriptor status(java.lang.foreign.MemoryLayout... args) {
        return FunctionDescriptor.of(JAVA_INT, args);
    }

    static final MethodHandle LAST_ERROR = fn("lb_last_error", FunctionDescriptor.of(ADDRESS));
    static final MethodHandle TORCH_VERSION = fn("lb_torch_version", FunctionDescriptor.of(ADDRESS));
    static final MethodHandle HAS_CUDA_BUILD = fn("lb_has_cuda_build", FunctionDescriptor.of(JAVA_INT));
    static final MethodHandle LIVE_TENSORS = fn("lb_live_tensors", FunctionDescriptor.of(JAVA_LONG));

    static final MethodHandle OP_LOOKUP = fn("lb_op_lookup", status(ADDRESS, ADDRESS, ADDRESS));
    static final MethodHandle OP_HAS = fn("lb_op_has", status(ADDRESS, ADDRESS, ADDRESS));
    static final MethodHandle OP_SCHEMA = fn("lb_op_schema", status(ADDRESS, ADDRESS, JAVA_LONG, ADDRESS));
    static final MethodHandle OP_CALL =
            fn("lb_op_call", status(ADDRESS, ADDRESS, JAVA_INT, ADDRESS, JAVA_INT, ADDRESS));

    static final MethodHandle FROM_HOST =
            fn("lb_from_host", status(ADDRESS, ADDRESS, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS));
    static final MethodHandle TO_HOST = fn("lb_to_host", status(ADDRESS, ADDRESS, JAVA_LONG));
    static final MethodHandle FREE = fn("lb_free", status(ADDRESS));
    static final MethodHandle CLONE_HANDLE = fn("lb_clone_handle", status(ADDRESS, ADDRESS));
    static final MethodHandle DIM = fn("lb_dim", status(ADDRESS, ADDRESS));
    static final MethodHandle SHAPE = fn("lb_shape", status(ADDRESS, ADDRESS));
    static final MethodHandle STRIDES = fn("lb_strides", status(ADDRESS, ADDRESS));
    static final MethodHandle DTYPE = fn("lb_dtype", status(ADDRESS, ADDRESS));
    static final MethodHandle DEVICE = fn("lb_device", status(ADDRESS, ADDRESS, ADDRESS));
    static final MethodHandle DATA_PTR = fn("lb_data_ptr", status(ADDRESS, ADDRESS));
    static final MethodHandle NUMEL = fn("lb_numel", status(ADDRESS, ADDRESS));

    static final MethodHandle SET_REQUIRES_GRAD = fn("lb_set_requires_grad", status(ADDRESS, JAVA_INT));
    static final MethodHandle REQUIRES_GRAD = fn("lb_requires_grad", status(ADDRESS, ADDRESS));
    static final MethodHandle BACKWARD = fn("lb_backward", status(ADDRESS, ADDRESS, JAVA_INT));
    static final MethodHandle GRAD = fn("lb_grad", status(ADDRESS, ADDRESS));
    static final MethodHandle ZERO_GRAD = fn("lb_zero_grad", status(ADDRESS));
    static final MethodHandle SET_GRAD_ENABLED = fn("lb_set_grad_enabled", status(JAVA_INT));
    static final MethodHandle IS_GRAD_ENABLED = fn("lb_is_grad_enabled", status(ADDRESS));

    static final MethodHandle MANUAL_SEED = fn("lb_manual_seed", status(JAVA_LONG));
    static final MethodHandle CUDA_DEVICE_COUNT = fn("lb_cuda_device_count", status(ADDRESS));
    static final MethodHandle CUDA_SYNCHRONIZE = fn("lb_cuda_synchronize", status(JAVA_INT));
    static final MethodHandle CUDA_MEMORY_ALLOCATED = fn("lb_cuda_memory_allocated", status(JAVA_INT, ADDRESS));
    static final MethodHandle CUDA_MAX_MEMORY_ALLOCATED = fn("lb_cuda_max_memory_allocated", status(JAVA_INT, ADDRESS));
    static final MethodHandle CUDA_RESET_PEAK_MEMORY = fn("lb_cuda_reset_peak_memory", status(JAVA_INT));
    static final MethodHandle CUDA_EMPTY_CACHE = fn("lb_cuda_empty_cache", status());
    static final MethodHandle CUDA_MEM_GET_INFO = fn("lb_cuda_mem_get_info", status(JAVA_INT, ADDRESS, ADDRESS));

    static final MethodHandle ABS_ACCUMULATE = fn("lb_abs_accumulate", status(ADDRESS, ADDRESS));
    static final MethodHandle SOFT_WEIGHT =
            fn("lb_soft_weight", status(ADDRESS, ADDRESS, ADDRESS, ADDRESS, JAVA_INT, JAVA_INT, ADDRESS));
    static final MethodHandle ADAM_STEP = fn(
            "lb_adam_step",
            status(
                    ADDRESS,
                    ADDRESS,
                    ADDRESS,
                    ADDRESS,
                    JAVA_DOUBLE,
                    JAVA_DOUBLE,
                    JAVA_DOUBLE,
                    JAVA_DOUBLE,
                    JAVA_DOUBLE,
                    JAVA_DOUBLE,
                    JAVA_DOUBLE));
    static final MethodHandle MSE_GRID = fn(
            "lb_mse_grid",
            status(ADDRESS, ADDRESS, ADDRESS, JAVA_INT, JAVA_DOUBLE, JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS, ADDRESS));
    static final MethodHandle GPTQ_SWEEP = fn(
            "lb_gptq_sweep",
            status(ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, JAVA_INT, ADDRESS, ADDRESS, ADDRESS, ADDRESS));

    /** Throws the calling thread's bridge error when a call did not return LB_OK. */
    static void check(int rc) {
        if (rc != 0) throw new TorchException(lastError());
    }

    static String lastError() {
        try {
            MemorySegment p = (MemorySegment) LAST_ERROR.invokeExact();
            return p.reinterpret(Long.MAX_VALUE).getString(0);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** Handles declare Throwable; ours throw only unchecked exceptions and errors. */
    static RuntimeException rethrow(Throwable t) {
        if (t instanceof RuntimeException r) return r;
        if (t instanceof Error e) throw e;
        return new TorchException(t.toString(), t);
    }
}
