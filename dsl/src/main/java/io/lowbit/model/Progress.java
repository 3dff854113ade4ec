package io.lowbit.model;

/** Long work reports how far it got; the notebook draws a bar, a console prints lines. */
@FunctionalInterface
public interface Progress {
  /** {@code done} of {@code total} units of {@code what} are finished. */
  void update(String what, long done, long total);

  Progress NONE = (what, done, total) -> {};
}
