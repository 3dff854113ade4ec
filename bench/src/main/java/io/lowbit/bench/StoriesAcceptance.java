package io.lowbit.bench;

import io.lowbit.data.Calibration;
import io.lowbit.data.DataFiles;
import io.lowbit.eval.Perplexity;
import io.lowbit.model.Model;
import io.lowbit.model.Models;
import io.lowbit.model.Progress;

/**
 * The quantization tables' shared protocol: stories260K, calibration = the first 128 windows of
 * 512 tokens of tinystories_train_excerpt.txt tokenized whole as [BOS] + encode(text), perplexity
 * on all windows of tinystories_val.txt by GPTQ's protocol ({@link Perplexity}).
 */
record StoriesAcceptance(Model fp, Calibration cal, String val, Perplexity.Options po) implements AutoCloseable {
    static StoriesAcceptance load() {
        Model fp = Models.load(DataFiles.root() + "/data/models/stories260K");
        String train = DataFiles.readText(DataFiles.find("text/tinystories_train_excerpt.txt"));
        String val = DataFiles.readText(DataFiles.find("text/tinystories_val.txt"));
        return new StoriesAcceptance(
                fp,
                Calibration.firstWindows("tinystories-train", fp.tokenizer(), train, 128, 512),
                val,
                Perplexity.Options.defaults(fp));
    }

    double perplexity(Model m) {
        return Perplexity.of(m, "val", val, po, Progress.NONE).perplexity();
    }

    @Override
    public void close() {
        fp.close();
    }
}
