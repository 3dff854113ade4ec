package io.lowbit.quant;

import io.lowbit.torch.Cuda;
import io.lowbit.torch.Device;
import java.util.Map;

/**
 * Seconds per phase of a long piece of work, added up over its blocks (GPTQ's Hessian / sweep /
 * propagate, the streamed gradients' copies / forward / head / backward): the profile that says
 * where the time goes. On a GPU the device is synchronised at each mark so the time lands on the
 * phase that spent it (a few syncs per block, no measurable cost).
 */
final class PhaseClock {
    private final Device work;
    private final Map<String, Double> phases;
    private long mark;

    PhaseClock(Device work, Map<String, Double> phases) {
        this.work = work;
        this.phases = phases;
        start();
    }

    void start() {
        if (work.isCuda()) Cuda.synchronize(work.index());
        mark = System.nanoTime();
    }

    void stop(String phase) {
        if (work.isCuda()) Cuda.synchronize(work.index());
        long now = System.nanoTime();
        phases.merge(phase, (now - mark) / 1e9, Double::sum);
        mark = now;
    }
}
