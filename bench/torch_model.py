"""The model rows of Bench.java in PyTorch + transformers, same shapes, same run (GPU machine).

usage: python3 bench/torch_model.py [--preset llama3-8b]
"""
import argparse
import time

import torch
from transformers import LlamaConfig, LlamaForCausalLM

PRESETS = {
    "llama3-8b": dict(vocab_size=128256, hidden_size=4096, intermediate_size=14336, num_hidden_layers=32,
                      num_attention_heads=32, num_key_value_heads=8, head_dim=128, max_position_embeddings=8192,
                      rope_theta=500000.0, rms_norm_eps=1e-5,
                      rope_scaling=dict(rope_type="llama3", factor=8.0, low_freq_factor=1.0, high_freq_factor=4.0,
                                        original_max_position_embeddings=8192)),
}


def median(body, reps=3):
    for _ in range(2):
        body()
    torch.cuda.synchronize()
    ts = []
    for _ in range(reps):
        t0 = time.perf_counter()
        body()
        torch.cuda.synchronize()
        ts.append(time.perf_counter() - t0)
    return sorted(ts)[reps // 2]


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--preset", default="llama3-8b")
    a = p.parse_args()
    cfg = LlamaConfig(**PRESETS[a.preset], attn_implementation="sdpa")
    with torch.device("cuda"):
        model = LlamaForCausalLM(cfg).to(torch.bfloat16)
    t = 2048
    for b in (1, 4):
        ids = torch.randint(0, 1000, (b, t), device="cuda")
        torch.cuda.reset_peak_memory_stats()

        def step():
            model(input_ids=ids, labels=ids).loss.backward()
            model.zero_grad(set_to_none=True)

        s = median(step)
        print(f"| torch fwd+bwd {a.preset} bf16 | {b}x{t} | {b * t / s:.1f} | tokens/s |")
        print(f"|   torch peak GPU memory | {b}x{t} | {torch.cuda.max_memory_allocated() / 1e9:.3f} | GB |")
    model.requires_grad_(False)
    for b in (1, 32):
        ids = torch.full((b, 16), 100, device="cuda") + torch.arange(16, device="cuda")
        s = median(lambda: model.generate(ids, max_new_tokens=128, min_new_tokens=128, do_sample=False,
                                          pad_token_id=0, eos_token_id=None))
        print(f"| torch generate greedy | batch {b} | {b * 128 / s:.1f} | tokens/s |")


if __name__ == "__main__":
    main()
