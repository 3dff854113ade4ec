package io.lowbit.model;

/** Long work reports how far it got; the notebook draws a bar, a console prints lines. */
@FunctionalInterface
public interface Progress {
    /** {@code done} of {@code total} units of {@code what} are finished. */
    void update(String what, long done, long total);

    /**
     * The same with a live detail (block, round, loss) that changes while {@code what} stays: a
     * notebook keeps one bar for {@code what} and shows the detail beside it.
     */
    default void update(String what, String detail, long done, long total) {
        update(what + " · " + detail, done, total);
    }

    Progress NONE = (what, done, total) -> {};
}
