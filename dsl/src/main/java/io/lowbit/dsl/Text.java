package io.lowbit.dsl;

import io.lowbit.data.DataFiles;
import java.nio.file.Files;
import java.nio.file.Path;

/** A named text, for perplexity and calibration: its name and contents. */
public record Text(String name, String contents) {
    /** A text file by path, or by its path under a data folder; named after the file. */
    static Text of(String path) {
        Path p = Path.of(path);
        if (Files.isRegularFile(p)) return new Text(p.getFileName().toString(), DataFiles.readText(p));
        return data(path, p.getFileName().toString());
    }

    /** A file under a data folder ($LOWBIT_DATA, data/, then ../shared/data), under the given name. */
    static Text data(String relative, String name) {
        return new Text(name, DataFiles.readText(DataFiles.find(relative)));
    }

    @Override
    public String toString() {
        return "Text[" + name + ", " + contents.length() + " chars]";
    }
}
