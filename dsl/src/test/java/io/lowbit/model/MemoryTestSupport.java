package io.lowbit.model;

/** Access to the engine tests' Cleaner settling from this package. */
final class MemoryTestSupport {
    private MemoryTestSupport() {}

    static void settle() {
        io.lowbit.torch.TestHooks.settleCleaner();
    }
}
