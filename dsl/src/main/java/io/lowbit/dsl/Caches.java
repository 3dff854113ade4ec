package io.lowbit.dsl;

/** What the verbs keep between calls, so that running a cell again costs seconds. */
final class Caches {
  private Caches() {}

  /** Frees TaCQ's gradients, Q_ref models and Hessians, and forgets eval's results. */
  static void clear() {
    Tacq.clear();
    Evaluate.clearCache();
  }
}
