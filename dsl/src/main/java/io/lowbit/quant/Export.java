package io.lowbit.quant;

import io.lowbit.model.Model;
import io.lowbit.model.Models;
import io.lowbit.torch.DType;
import java.nio.file.Path;

/**
 * Where a quantized model goes for other tools: {@link #GPTQ_FORMAT} (packed codes, as GPTQModel,
 * transformers and vLLM load them), {@link #HF_DENSE} (the evaluated weights as a dense bf16 Hugging
 * Face checkpoint, kept weights included) or {@link #LOWBIT} (Lowbit's packed folder, {@link PackedFormat}:
 * codes in int32 words, kept weights sparse; {@link QuantizedModel#load} reads it back).
 * Each writes config.json and the tokenizer's files beside the weights.
 */
public enum Export {
    GPTQ_FORMAT,
    HF_DENSE,
    LOWBIT;

    public void write(QuantizedModel q, Path folder) {
        switch (this) {
            case GPTQ_FORMAT -> GptqFormat.export(q, folder);
            case HF_DENSE -> {
                try (Model bf16 = q.model().to(DType.BF16)) {
                    Models.save(bf16, folder);
                }
            }
            case LOWBIT -> PackedFormat.save(q, folder);
        }
    }
}
