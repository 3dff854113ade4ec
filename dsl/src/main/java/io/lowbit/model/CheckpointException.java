package io.lowbit.model;

/** A checkpoint, config or tokenizer file that cannot be used; the message names the file and the field. */
public class CheckpointException extends RuntimeException {
    public CheckpointException(String message) {
        super(message);
    }

    public CheckpointException(String message, Throwable cause) {
        super(message, cause);
    }
}
