package io.lowbit.kernel;

import io.github.spencerpark.jupyter.kernel.display.DisplayData;
import io.github.spencerpark.jupyter.kernel.display.mime.MIMEType;
import java.util.UUID;

/**
 * What a cell can do with the notebook besides returning a value ({@code import static
 * io.lowbit.kernel.Notebook.*} is in every session): show things now, update them in place, clear.
 */
public final class Notebook {
    private Notebook() {}

    /** Shows {@code value} as a cell's result would be shown; returns an id for {@link #updateDisplay}. */
    public static String display(Object value) {
        LowbitKernel k = LowbitKernel.current();
        DisplayData d = k.render(value);
        String id = UUID.randomUUID().toString();
        d.setDisplayId(id);
        k.iopub.publish("display_data", Bundles.content(d));
        return id;
    }

    /** Replaces what {@link #display} showed under {@code id}. */
    public static void updateDisplay(String id, Object value) {
        LowbitKernel k = LowbitKernel.current();
        DisplayData d = k.render(value);
        d.setDisplayId(id);
        k.iopub.publish("update_display_data", Bundles.content(d));
    }

    /** Shows HTML (it is sent as is: no scripts from the network will be loaded by the kernel). */
    public static void html(String html) {
        DisplayData d = new DisplayData(html.replaceAll("<[^>]*>", ""));
        d.putHTML(html);
        publish(d);
    }

    public static void markdown(String markdown) {
        DisplayData d = new DisplayData(markdown);
        d.putMarkdown(markdown);
        publish(d);
    }

    /** Shows an SVG image. */
    public static void svg(String svg) {
        DisplayData d = new DisplayData("SVG image");
        d.putData(MIMEType.IMAGE_SVG, svg);
        publish(d);
    }

    /** Clears this cell's output (at once, or when the next output arrives). */
    public static void clearOutput(boolean wait) {
        LowbitKernel.current().iopub.publish("clear_output", Wire.obj("wait", wait));
    }

    private static void publish(DisplayData d) {
        LowbitKernel.current().iopub.publish("display_data", Bundles.content(d));
    }
}
