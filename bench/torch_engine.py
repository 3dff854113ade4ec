"""The same engine measurements as Bench.java, in PyTorch itself, for the ratio in one run.

usage: python3 bench/torch_engine.py [--matmul N]   (on the GPU machine, whose python3 has torch)
"""
import argparse
import time

import torch


def median_seconds(body, reps, sync):
    for _ in range(2):
        body()
    sync()
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        body()
        sync()
        times.append(time.perf_counter() - t0)
    times.sort()
    return times[reps // 2]


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--matmul", type=int, default=8192)
    args = p.parse_args()
    cuda = torch.cuda.is_available()
    dev = "cuda" if cuda else "cpu"
    dt = torch.bfloat16 if cuda else torch.float32
    sync = torch.cuda.synchronize if cuda else (lambda: None)
    n = args.matmul
    torch.manual_seed(0)
    a, b = torch.randn(n, n, dtype=dt, device=dev), torch.randn(n, n, dtype=dt, device=dev)
    s = median_seconds(lambda: a @ b, 20 if cuda else 5, sync)
    print(f"| torch matmul {str(dt).replace('torch.', '')} | {n}^3 | {2 * n**3 / s / 1e12:.3f} | TFLOP/s |")
    tiny = torch.ones(4, device=dev)
    ops = 20000

    def many():
        for _ in range(ops):
            tiny.add(1)

    s = median_seconds(many, 5, sync)
    print(f"| torch tiny op: add | 4 elements | {s / ops * 1e6:.3f} | us/op |")


if __name__ == "__main__":
    main()
