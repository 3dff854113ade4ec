package io.lowbit.torch;

/** Test helpers other packages' tests may call. */
public final class TestHooks {
    private TestHooks() {}

    /** Runs the garbage collector until the Cleaner has nothing left to free. */
    public static void settleCleaner() {
        MemoryTest.settleCleaner();
    }
}
