package io.lowbit.model;

/** Lets other packages' tests use HfTokenizerTest's hand-written tokenizer.json. */
public final class HfTokenizerTestAccess {
    private HfTokenizerTestAccess() {}

    public static String wordLevelJson() {
        return HfTokenizerTest.WORD_LEVEL;
    }
}
