"""Kernel latency (./lowbit kernel-bench, or: JUPYTER_PATH=<kernelspec dir> /usr/bin/python3 bench/kernel_latency.py):
start to ready (first kernel_info reply, first cell result), then the median and 90th percentile round
trip of 100 kernel_info requests and 100 trivial executes, for Lowbit and, when installed, ipykernel."""
import statistics
import sys
import time

from jupyter_client.kernelspec import NoSuchKernel
from jupyter_client.manager import KernelManager


def measure(name, trivial, n=100):
    t0 = time.perf_counter()
    km = KernelManager(kernel_name=name)
    km.start_kernel()
    kc = km.client()
    kc.start_channels()
    kc.wait_for_ready(timeout=60)
    ready = time.perf_counter() - t0
    kc.execute_interactive(trivial, timeout=60, output_hook=lambda m: None)
    first = time.perf_counter() - t0

    def round_trips(send):
        times = []
        for _ in range(n):
            t = time.perf_counter()
            msg_id = send()
            while kc.get_shell_msg(timeout=30)["parent_header"].get("msg_id") != msg_id:
                pass
            times.append((time.perf_counter() - t) * 1e3)
        return statistics.median(times), statistics.quantiles(times, n=10)[-1]

    info = round_trips(kc.kernel_info)
    execute = round_trips(lambda: kc.execute(trivial))
    kc.stop_channels()
    km.shutdown_kernel(now=True)
    return ready, first, info, execute


def main():
    rows = []
    for name, code in (("lowbit", "1 + 1"), ("python3", "1 + 1")):
        try:
            rows.append((name,) + measure(name, code))
        except NoSuchKernel:
            print(f"({name}: no such kernel here)", file=sys.stderr)
    print("| kernel | start → kernel_info (s) | start → first result (s) | kernel_info median / p90 (ms) "
          "| execute `1 + 1` median / p90 (ms) |")
    print("|---|---|---|---|---|")
    for name, ready, first, info, execute in rows:
        print(f"| {name} | {ready:.2f} | {first:.2f} | {info[0]:.1f} / {info[1]:.1f} | {execute[0]:.1f} / {execute[1]:.1f} |")


if __name__ == "__main__":
    main()
