"""CLAQ's per-layer quantization structured as its authors' code runs it (Wang et al., arXiv 2405.17233,
on the GPTQ code of Frantar et al., arXiv 2210.17323): GPTQ's column sweep with act-order, 1 % damping
and lazy blocks of 128 on the GPU with torch, and for every column one scikit-learn KMeans fit on the
CPU (k = 2^b clusters, k-means++ seeding, n_init="auto" = one initialisation, random_state = 10,
max_iter 300, tol 1e-4; scikit-learn-intelex patched in where installed, as the reference does). Timed
on one k_proj-shaped layer (1024 x 4096) of a random Llama-3-8B block whose Hessian comes from 128 x 2048
random tokens, then extrapolated to a whole block: the baseline for Lowbit's CLAQ timings
(io.lowbit.bench.QuantBlocks --claq) on the same GPU. Written from the algorithm description.

usage: python3 bench/torch_claq.py [--bits 2] [--samples 128] [--length 2048] [--columns N] [--no-intelex]
"""
import argparse
import time

import numpy as np
import torch

H, I, KV, HD, VOCAB = 4096, 14336, 8, 128, 128256
# a Llama-3-8B block's linears: (rows, columns)
BLOCK = {"q": (H, H), "k": (KV * HD, H), "v": (KV * HD, H), "o": (H, H), "gate": (I, H), "up": (I, H), "down": (H, I)}


def hessian(samples, length, dev):
    """H = 2/N sum x x^T over the k_proj inputs: RMSNorm of random embeddings of random tokens."""
    g = torch.Generator(device=dev).manual_seed(0)
    emb = torch.randn(VOCAB, H, device=dev, dtype=torch.bfloat16, generator=g) * 0.02
    Hm, n = torch.zeros(H, H, device=dev), 0
    for _ in range(samples):
        tok = torch.randint(0, VOCAB, (length,), device=dev, generator=g)
        x = emb[tok].float()
        x = x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + 1e-5)
        Hm *= n / (n + 1)  # the running mean of GPTQ's add_batch, one sample at a time
        n += 1
        x = (2 / n) ** 0.5 * x.t()
        Hm += x.matmul(x.t())
    return Hm


def kmeans_column(w, k, KMeans):
    """One column's codebook on the CPU, as the reference fits it."""
    col = w.detach().cpu().numpy().astype(np.float32).reshape(-1, 1)
    km = KMeans(n_clusters=k, random_state=10, n_init="auto").fit(col)
    return torch.from_numpy(km.cluster_centers_.astype(np.float32).reshape(-1)).to(w.device)


def sweep(W, Hm, bits, KMeans, columns=None, blocksize=128, percdamp=0.01):
    """GPTQ's Algorithm 1 with act-order, each column rounded to its own K-means centroids.
    Returns the quantized weight (in the swept columns), the seconds spent in K-means, and the columns swept."""
    W = W.float().clone()
    r, c = W.shape
    k = 2 ** bits
    dead = torch.diag(Hm) == 0
    Hm[dead, dead] = 1
    W[:, dead] = 0
    perm = torch.argsort(torch.diag(Hm), descending=True)  # act-order
    W, Hm = W[:, perm], Hm[perm][:, perm]
    Hm += percdamp * torch.mean(torch.diag(Hm)) * torch.eye(c, device=W.device)
    U = torch.linalg.cholesky(torch.cholesky_inverse(torch.linalg.cholesky(Hm)), upper=True)
    Q = torch.zeros_like(W)
    stop = c if columns is None else min(columns, c)
    t_km = 0.0
    for i1 in range(0, stop, blocksize):
        i2 = min(i1 + blocksize, stop)
        W1, E1, U1 = W[:, i1:i2].clone(), torch.zeros(r, i2 - i1, device=W.device), U[i1:i2, i1:i2]
        for i in range(i2 - i1):
            w, d = W1[:, i], U1[i, i]
            t0 = time.perf_counter()
            cent = kmeans_column(w, k, KMeans)
            t_km += time.perf_counter() - t0
            q = cent[(w.unsqueeze(1) - cent.unsqueeze(0)).abs().argmin(1)]
            Q[:, i1 + i] = q
            err = (w - q) / d
            W1[:, i:] -= err.unsqueeze(1).matmul(U1[i, i:].unsqueeze(0))
            E1[:, i] = err
        W[:, i2:] -= E1.matmul(U[i1:i2, i2:])
    return Q[:, torch.argsort(perm)], t_km, stop


def kmeans_seconds(rows, k, KMeans, n=32):
    """Seconds of one column's K-means on `rows` Gaussian values, the median of n fits."""
    rng, t = np.random.default_rng(0), []
    for _ in range(n):
        col = (rng.standard_normal((rows, 1)) * 0.02).astype(np.float32)
        t0 = time.perf_counter()
        KMeans(n_clusters=k, random_state=10, n_init="auto").fit(col)
        t.append(time.perf_counter() - t0)
    return float(np.median(t))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bits", type=int, default=2)
    ap.add_argument("--samples", type=int, default=128)
    ap.add_argument("--length", type=int, default=2048)
    ap.add_argument("--columns", type=int, default=None, help="sweep only the first N columns, then scale")
    ap.add_argument("--no-intelex", action="store_true")
    a = ap.parse_args()
    intelex = False
    if not a.no_intelex:
        try:
            from sklearnex import patch_sklearn
            patch_sklearn()
            intelex = True
        except ImportError:
            pass
    from sklearn.cluster import KMeans

    dev = "cuda"
    torch.manual_seed(0)
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.cuda.synchronize()
    t0 = time.time()
    Hm = hessian(a.samples, a.length, dev)
    torch.cuda.synchronize()
    t_h = time.time() - t0
    rows, cols = BLOCK["k"]
    W = torch.randn(rows, cols, device=dev) * 0.02
    torch.cuda.synchronize()
    t0 = time.time()
    Q, t_km, swept = sweep(W, Hm.clone(), a.bits, KMeans, a.columns)
    torch.cuda.synchronize()
    t_s = (time.time() - t0) * cols / swept  # the whole k_proj
    t_km *= cols / swept
    # a block: every linear's sweep in proportion to its columns (the loop runs once per column)
    total_cols = sum(c for _, c in BLOCK.values())
    block_by_columns = t_s * total_cols / cols
    # the same, each linear's K-means share rescaled by one column's fit at its row count
    k = 2 ** a.bits
    per_rows = {r: kmeans_seconds(r, k, KMeans) for r in sorted({r for r, _ in BLOCK.values()})}
    other = (t_s - t_km) / cols  # feedback and transfers per column
    block_by_rows = sum(c * (other + per_rows[r]) for r, c in BLOCK.values())
    print(f"torch {torch.__version__}, scikit-learn KMeans{' (intelex)' if intelex else ''}, "
          f"{a.samples}x{a.length} random tokens, W{a.bits}; swept {swept} of {cols} columns")
    print("| run | Hessian s | k_proj sweep s | of which K-means s | block by columns s | "
          "block by columns and rows s | whole model (min) |")
    print("|---|---|---|---|---|---|---|")
    print(f"| PyTorch CLAQ (reference structure) W{a.bits} | {t_h:.1f} | {t_s:.1f} | {t_km:.1f} | "
          f"{block_by_columns:.0f} | {block_by_rows:.0f} | {block_by_rows * 32 / 60:.0f} |", flush=True)
    print("K-means seconds per column by rows: " + ", ".join(f"{r}: {s * 1e3:.2f} ms" for r, s in per_rows.items()))


if __name__ == "__main__":
    main()
