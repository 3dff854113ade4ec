package io.lowbit.quant;

import java.lang.reflect.RecordComponent;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Set;

/**
 * How the weights off the grid are chosen: one algorithm's options. {@link Quantize#run} dispatches
 * on the type; the defaults are each record's {@code defaults()}, refined with bare-name withers:
 * {@code Gptq.Options.defaults().actOrder().staticGroups()}.
 */
public sealed interface Method permits Rtn.Options, Gptq.Options, Awq.Options, Tesseraq.Options, Claq.Options {

    /** The algorithm's name as tables and saved files print it: "RTN", "GPTQ", "AWQ", "TESSERAQ", "CLAQ". */
    String name();

    /**
     * The name and the options that differ from the defaults, those that decide the result:
     * "GPTQ act-order static-groups". Labels eval rows and tells cached results apart.
     */
    String label();

    /**
     * {@code name} followed by each component of {@code options} that differs from {@code defaults}
     * (skipping {@code ignored}): a true flag as its name, a false one as "no-" and its name, any
     * other value as name and value. Names are written in kebab case, a flag's "On" suffix dropped.
     */
    static String describe(String name, Record options, Record defaults, Set<String> ignored) {
        List<String> parts = new ArrayList<>(List.of(name));
        try {
            for (RecordComponent c : options.getClass().getRecordComponents()) {
                if (ignored.contains(c.getName())) continue;
                Object value = c.getAccessor().invoke(options),
                        standard = c.getAccessor().invoke(defaults);
                if (java.util.Objects.equals(value, standard)) continue;
                String n = c.getName()
                        .replaceFirst("On$", "")
                        .replaceAll("([A-Z])", "-$1")
                        .toLowerCase(Locale.ROOT);
                if (value instanceof Boolean b) parts.add(b ? n : "no-" + n);
                else parts.add(n + " " + value);
            }
        } catch (ReflectiveOperationException e) {
            throw new IllegalStateException(e);
        }
        return String.join(" ", parts);
    }
}
