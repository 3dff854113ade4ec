package io.lowbit.eval;

import io.lowbit.model.Tokenizer;

/**
 * A system and a user message as a model's chat template writes them, with the generation prompt
 * (the assistant's header) at the end, as Hugging Face's {@code apply_chat_template(...,
 * add_generation_prompt=True, tokenize=False)} renders them. Chat templates are Jinja programs; the
 * two families known here are recognised by their markers and written out by hand: Llama 3
 * ({@code <|start_header_id|>}; the text starts with {@code <|begin_of_text|>}, so encoding it with
 * BOS gives two, as in TaCQ's runs) and ChatML ({@code <|im_start|>}, Qwen2.5). Any other template is
 * refused rather than guessed. A tokenizer without a template gets the plain text: the system line, a
 * newline, the user message.
 */
public final class ChatPrompt {
    private ChatPrompt() {}

    public static String render(Tokenizer tok, String system, String user) {
        String template = tok == null ? null : tok.chatTemplate();
        if (template == null || template.isBlank()) return system + "\n" + user;
        if (template.contains("<|start_header_id|>") && !template.contains("Cutting Knowledge Date"))
            // Llama 3's template trims each message
            return "<|begin_of_text|>" + llama3("system", system) + llama3("user", user)
                    + "<|start_header_id|>assistant<|end_header_id|>\n\n";
        if (template.contains("<|im_start|>"))
            return "<|im_start|>system\n" + system + "<|im_end|>\n<|im_start|>user\n" + user + "<|im_end|>\n"
                    + "<|im_start|>assistant\n";
        throw new IllegalArgumentException("the tokenizer's chat template is neither Llama 3's nor ChatML; "
                + "its prompts cannot be written here: " + template.substring(0, Math.min(80, template.length())));
    }

    /**
     * The token id that ends the assistant's turn under the tokenizer's chat template ({@code <|eot_id|>},
     * {@code <|im_end|>}), or -1: Hugging Face's generation stops there (the instruct models' generation
     * configs list it as an EOS) even when the model config's EOS is another token.
     */
    public static int endOfTurn(Tokenizer tok) {
        String template = tok == null ? null : tok.chatTemplate();
        if (template == null || template.isBlank()) return -1;
        String marker = template.contains("<|start_header_id|>")
                ? "<|eot_id|>"
                : template.contains("<|im_start|>") ? "<|im_end|>" : null;
        if (marker == null) return -1;
        int[] ids = tok.encode(marker, false, false);
        return ids.length == 1 ? ids[0] : -1;
    }

    private static String llama3(String role, String content) {
        return "<|start_header_id|>" + role + "<|end_header_id|>\n\n" + content.strip() + "<|eot_id|>";
    }
}
