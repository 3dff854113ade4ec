"""GPTQ in plain PyTorch, the way the reference implementation is structured (Frantar et al. 2023:
Hessians by forward hooks, one calibration sample at a time, every group of the true-sequential
order re-running the whole block; the column sweep as a Python loop over columns inside blocks of
128 with lazy updates), on Llama-3-8B-shaped blocks with random weights and inputs: the baseline
for Lowbit's GPTQ timings (bench QuantBlocks) on the same GPU. Written from the paper's algorithm.

usage: python3 bench/torch_gptq.py [--blocks 2] [--samples 128] [--length 2048]
"""
import argparse
import math
import time

import torch
import torch.nn.functional as F

H, I, HEADS, KV, HD = 4096, 14336, 32, 8, 128


class Block(torch.nn.Module):
    def __init__(self):
        super().__init__()
        lin = lambda i, o: torch.nn.Linear(i, o, bias=False)
        self.q, self.k, self.v, self.o = lin(H, HEADS * HD), lin(H, KV * HD), lin(H, KV * HD), lin(HEADS * HD, H)
        self.gate, self.up, self.down = lin(H, I), lin(H, I), lin(I, H)
        self.n1, self.n2 = torch.nn.Parameter(torch.ones(H)), torch.nn.Parameter(torch.ones(H))
        for l in (self.q, self.k, self.v, self.o, self.gate, self.up, self.down):
            torch.nn.init.normal_(l.weight, std=0.02)

    @staticmethod
    def norm(x, w):
        xf = x.float()
        return (xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + 1e-5)).to(x.dtype) * w

    @staticmethod
    def rope(x, pos):
        d = x.shape[-1]
        inv = 1.0 / (500000.0 ** (torch.arange(0, d, 2, device=x.device).float() / d))
        ang = pos[:, None].float() * inv[None, :]
        cos, sin = torch.cat([ang.cos(), ang.cos()], -1).to(x.dtype), torch.cat([ang.sin(), ang.sin()], -1).to(x.dtype)
        x1, x2 = x[..., : d // 2], x[..., d // 2:]
        return x * cos + torch.cat([-x2, x1], -1) * sin

    def forward(self, h):
        b, t, _ = h.shape
        pos = torch.arange(t, device=h.device)
        x = self.norm(h, self.n1)
        q = self.rope(self.q(x).view(b, t, HEADS, HD).transpose(1, 2), pos)
        k = self.rope(self.k(x).view(b, t, KV, HD).transpose(1, 2), pos)
        v = self.v(x).view(b, t, KV, HD).transpose(1, 2)
        k, v = k.repeat_interleave(HEADS // KV, 1), v.repeat_interleave(HEADS // KV, 1)
        a = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        h = h + self.o(a.transpose(1, 2).reshape(b, t, H))
        x = self.norm(h, self.n2)
        return h + self.down(F.silu(self.gate(x)) * self.up(x))


def sweep(W, Hm, bits, group, blocksize=128, percdamp=0.01):
    """Quantizes W [r, c] against the Hessian Hm: Algorithm 1 with lazy batch updates."""
    W = W.float().clone()
    r, c = W.shape
    maxq = 2 ** bits - 1

    def params(x):
        lo = torch.minimum(x.min(1)[0], torch.zeros(r, device=x.device))
        hi = torch.maximum(x.max(1)[0], torch.zeros(r, device=x.device))
        both = (lo == 0) & (hi == 0)
        lo[both], hi[both] = -1, 1
        s = (hi - lo) / maxq
        return s.unsqueeze(1), torch.round(-lo / s).unsqueeze(1)

    dead = torch.diag(Hm) == 0
    Hm[dead, dead] = 1
    W[:, dead] = 0
    Hm += percdamp * torch.mean(torch.diag(Hm)) * torch.eye(c, device=W.device)
    U = torch.linalg.cholesky(torch.cholesky_inverse(torch.linalg.cholesky(Hm)), upper=True)
    Q = torch.zeros_like(W)
    scale, zero = params(W) if group < 0 else (None, None)
    for i1 in range(0, c, blocksize):
        i2 = min(i1 + blocksize, c)
        W1, Q1, E1, U1 = W[:, i1:i2].clone(), torch.zeros(r, i2 - i1, device=W.device), torch.zeros(r, i2 - i1, device=W.device), U[i1:i2, i1:i2]
        for i in range(i2 - i1):
            w, d = W1[:, i], U1[i, i]
            if group > 0 and (i1 + i) % group == 0:
                scale, zero = params(W[:, i1 + i: i1 + i + group])
            q = (torch.clamp(torch.round(w.unsqueeze(1) / scale) + zero, 0, maxq) - zero) * scale
            q = q.flatten()
            Q1[:, i] = q
            err = (w - q) / d
            W1[:, i:] -= err.unsqueeze(1).matmul(U1[i, i:].unsqueeze(0))
            E1[:, i] = err
        Q[:, i1:i2] = Q1
        W[:, i2:] -= E1.matmul(U[i1:i2, i2:])
    return Q


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--blocks", type=int, default=2)
    ap.add_argument("--samples", type=int, default=128)
    ap.add_argument("--length", type=int, default=2048)
    a = ap.parse_args()
    dev = "cuda"
    torch.manual_seed(0)
    groups = [["k", "v", "q"], ["o"], ["up", "gate"], ["down"]]
    for bits, group in ((4, -1), (3, 128)):
        inps = [torch.randn(1, a.length, H, device=dev, dtype=torch.bfloat16) for _ in range(a.samples)]
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        t_h = t_s = t_p = 0.0
        for _ in range(a.blocks):
            blk = Block().to(dev, torch.bfloat16)
            for names in groups:
                Hs, counts = {n: torch.zeros(getattr(blk, n).in_features, getattr(blk, n).in_features, device=dev) for n in names}, {n: 0 for n in names}

                def hook(name):
                    def f(mod, inp, out):
                        x = inp[0].reshape(-1, inp[0].shape[-1]).t().float()
                        m = 1
                        Hs[name] *= counts[name] / (counts[name] + m)
                        counts[name] += m
                        x = math.sqrt(2 / counts[name]) * x
                        Hs[name] += x.matmul(x.t())
                    return f

                hs = [getattr(blk, n).register_forward_hook(hook(n)) for n in names]
                torch.cuda.synchronize(); t0 = time.time()
                with torch.no_grad():
                    for x in inps:
                        blk(x)
                torch.cuda.synchronize(); t1 = time.time()
                for hnd in hs:
                    hnd.remove()
                for n in names:
                    lin = getattr(blk, n)
                    lin.weight.data = sweep(lin.weight.data, Hs[n], bits, group).to(torch.bfloat16)
                torch.cuda.synchronize(); t2 = time.time()
                t_h += t1 - t0
                t_s += t2 - t1
            torch.cuda.synchronize(); t0 = time.time()
            with torch.no_grad():
                inps = [blk(x) for x in inps]
            torch.cuda.synchronize()
            t_p += time.time() - t0
            del blk
        n = a.blocks
        grid = f"W{bits} " + ("per-row" if group < 0 else f"g{group}")
        print(f"| PyTorch GPTQ (reference structure) {grid} | {t_h / n:.2f} | {t_s / n:.2f} | {t_p / n:.2f} | "
              f"{(t_h + t_s + t_p) / n:.2f} | {(t_h + t_s + t_p) / n * 32 / 60:.1f} | "
              f"{torch.cuda.max_memory_allocated() / 2**30:.1f} |", flush=True)


if __name__ == "__main__":
    main()
