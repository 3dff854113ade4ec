package io.lowbit.torch;

/** The native bridge or the libtorch it needs could not be loaded; the message says what to install. */
public final class NativeLibraryMissing extends TorchException {
    NativeLibraryMissing(String message, Throwable cause) {
        super(message, cause);
    }
}
