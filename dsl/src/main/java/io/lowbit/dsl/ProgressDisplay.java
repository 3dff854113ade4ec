package io.lowbit.dsl;

import io.lowbit.model.Progress;
import java.util.function.Supplier;

/** Where the verbs report long work: the console, unless the notebook kernel installs its own display. */
final class ProgressDisplay {
  private ProgressDisplay() {}

  private static volatile Supplier<Progress> factory = () -> new ConsoleProgress(System.err);

  static void use(Supplier<Progress> p) {
    factory = p;
  }

  /** A fresh display for one piece of work. */
  static Progress open() {
    return factory.get();
  }
}
