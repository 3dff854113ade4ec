package io.lowbit.model;

/** Text to token ids and back. Implementations: llama2.c's tokenizer.bin, Hugging Face tokenizer.json. */
public interface Tokenizer {
    /** Token ids of {@code text}, with BOS in front and/or EOS behind when asked. */
    int[] encode(String text, boolean bos, boolean eos);

    /** The text of {@code ids}; BOS and EOS are dropped. Decoding what encode gave returns the text. */
    String decode(int[] ids);

    int bos();

    int eos();

    int vocabSize();

    /** The Jinja chat template of its {@code tokenizer_config.json}, or null when it has none. */
    default String chatTemplate() {
        return null;
    }

    /** The files that define it, copied beside a saved checkpoint. */
    default java.util.List<java.nio.file.Path> files() {
        return java.util.List.of();
    }
}
