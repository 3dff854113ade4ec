package io.lowbit.torch;

/** A failure inside libtorch or the bridge, carrying libtorch's own message. The JVM keeps working. */
public class TorchException extends RuntimeException {
    public TorchException(String message) {
        super(message);
    }

    public TorchException(String message, Throwable cause) {
        super(message, cause);
    }
}
