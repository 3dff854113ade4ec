package io.lowbit.dsl;

/** Where the top scores are taken: over the whole model (the paper), per matrix, or per row. */
public enum KeepScope {
    GLOBAL,
    PER_MATRIX,
    PER_ROW
}
