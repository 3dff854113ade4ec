package io.lowbit.torch;

/** Element types, with libtorch's c10::ScalarType codes (stable from 1.13 to 2.x). */
public enum DType {
    U8(0, 1),
    I8(1, 1),
    I16(2, 2),
    I32(3, 4),
    I64(4, 8),
    F16(5, 2),
    F32(6, 4),
    F64(7, 8),
    BOOL(11, 1),
    BF16(15, 2);

    /** c10::ScalarType code. */
    final int code;
    /** Bytes per element. */
    public final int bytes;

    DType(int code, int bytes) {
        this.code = code;
        this.bytes = bytes;
    }

    public boolean isFloatingPoint() {
        return this == F16 || this == F32 || this == F64 || this == BF16;
    }

    static DType ofCode(int code) {
        for (DType d : values()) if (d.code == code) return d;
        throw new TorchException("unsupported libtorch scalar type code " + code);
    }

    /** Parses "f32", "float32", "bf16", "bfloat16", "fp16", "half", ... */
    public static DType parse(String name) {
        return switch (name.toLowerCase(java.util.Locale.ROOT)) {
            case "u8", "uint8" -> U8;
            case "i8", "int8" -> I8;
            case "i16", "int16" -> I16;
            case "i32", "int32", "int" -> I32;
            case "i64", "int64", "long" -> I64;
            case "f16", "fp16", "float16", "half" -> F16;
            case "f32", "fp32", "float32", "float" -> F32;
            case "f64", "fp64", "float64", "double" -> F64;
            case "bool" -> BOOL;
            case "bf16", "bfloat16" -> BF16;
            default ->
                throw new IllegalArgumentException(
                        "unknown dtype '" + name + "' (use one of f64, f32, f16, bf16, i64, i32, i16, i8, u8, bool)");
        };
    }

    @Override
    public String toString() {
        return name().toLowerCase(java.util.Locale.ROOT);
    }
}
