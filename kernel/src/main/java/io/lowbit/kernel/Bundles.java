package io.lowbit.kernel;

import com.google.gson.JsonObject;
import io.github.spencerpark.jupyter.kernel.display.DisplayData;
import java.lang.reflect.Field;
import java.util.Map;

/**
 * A display bundle's three parts as JSON. The base kernel's DisplayData keeps them private and
 * serializes with reflection (which fails on NaN and java.time values); we read the maps once
 * and convert every value ourselves ({@link Wire#json}).
 */
final class Bundles {
    private Bundles() {}

    private static final Field DATA = field("data");
    private static final Field METADATA = field("metadata");
    private static final Field TRANSIENT = field("transientData");

    private static Field field(String name) {
        try {
            Field f = DisplayData.class.getDeclaredField(name);
            f.setAccessible(true);
            return f;
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError("jupyter-jvm-basekernel's DisplayData has no field " + name);
        }
    }

    static JsonObject data(DisplayData d) {
        return part(DATA, d);
    }

    static JsonObject metadata(DisplayData d) {
        return part(METADATA, d);
    }

    static JsonObject transients(DisplayData d) {
        return part(TRANSIENT, d);
    }

    private static JsonObject part(Field f, DisplayData d) {
        try {
            Object m = f.get(d);
            return m instanceof Map<?, ?> map ? Wire.json(map).getAsJsonObject() : new JsonObject();
        } catch (IllegalAccessException e) {
            throw new IllegalStateException(e);
        }
    }

    /** The content of display_data / execute_result / update_display_data. */
    static JsonObject content(DisplayData d) {
        JsonObject c = new JsonObject();
        c.add("data", data(d));
        c.add("metadata", metadata(d));
        c.add("transient", transients(d));
        return c;
    }
}
