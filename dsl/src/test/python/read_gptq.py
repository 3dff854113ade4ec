#!/usr/bin/env python3
"""An independent reader of GPTQ-format checkpoints, written from the format's description only
(no Lowbit code, no torch): it dequantizes every packed linear of DIR to float32 and writes them to
OUT as a safetensors file under "<prefix>.weight".

Format (GPTQ: Frantar et al., arXiv 2210.17323; the layout GPTQModel and transformers read):
  qweight int32 [in*bits/32, out]: column j's codes over the inputs as a little-endian bit stream
  qzeros  int32 [groups, out*bits/32]: row g's zero points over the outputs, same bit stream
  scales  fp16  [groups, out];  g_idx int32 [in] (group of each input column)
  checkpoint_format "gptq" (v1) stores zero-1 and a v1 reader adds 1 back without masking;
  "gptq_v2" stores the zero itself.  weight[j, i] = scale[g, j] * (q[j, i] - zero[g, j]), g = g_idx[i].

Usage: read_gptq.py DIR OUT.safetensors
"""
import json
import struct
import sys

import numpy as np

DTYPES = {"I32": np.dtype("<i4"), "F16": np.dtype("<f2"), "F32": np.dtype("<f4"), "BF16": None}


def read_safetensors(path):
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n].decode("utf-8"))
    base = 8 + n
    tensors = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        dt = DTYPES.get(info["dtype"])
        if dt is None:
            continue  # only the packed linears' dtypes matter here
        start, end = info["data_offsets"]
        tensors[name] = np.frombuffer(data[base + start:base + end], dtype=dt).reshape(info["shape"])
    return tensors


def write_safetensors(path, tensors):
    header, offset, blobs = {}, 0, []
    for name, array in tensors.items():
        raw = np.ascontiguousarray(array, dtype="<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(array.shape), "data_offsets": [offset, offset + len(raw)]}
        offset += len(raw)
        blobs.append(raw)
    text = json.dumps(header).encode("utf-8")
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for b in blobs:
            f.write(b)


def stream(words, bits, count):
    """Rows of int32 words [r, k] -> rows of `count` values of `bits` bits, low bits first."""
    raw = np.ascontiguousarray(words.astype("<u4", copy=False)).view(np.uint8)
    bitarr = np.unpackbits(raw, axis=1, bitorder="little")[:, :count * bits]
    values = bitarr.reshape(words.shape[0], count, bits).astype(np.int64)
    return (values << np.arange(bits, dtype=np.int64)).sum(axis=2)


def dequantize(t, prefix, bits, group_size, v1):
    qweight, qzeros, scales = t[prefix + ".qweight"], t[prefix + ".qzeros"], t[prefix + ".scales"]
    out = qweight.shape[1]
    n_in = qweight.shape[0] * 32 // bits
    q = stream(qweight.T, bits, n_in)                          # [out, in]
    z = stream(qzeros, bits, out)                              # [groups, out]
    if v1:
        z = z + 1
    g = t[prefix + ".g_idx"].astype(np.int64) if prefix + ".g_idx" in t else \
        np.arange(n_in) // (group_size if group_size > 0 else n_in)
    s = scales.astype(np.float32)                              # fp16 -> f32 is exact
    diff = (q - z[g, :].T).astype(np.float32)                  # small integers, exact in f32
    return s[g, :].T * diff                                    # one f32 rounding per weight


def main(folder, out_path):
    with open(folder + "/config.json") as f:
        qc = json.load(f)["quantization_config"]
    assert qc["quant_method"] == "gptq", qc
    v1 = qc.get("checkpoint_format", "gptq") == "gptq"
    t = read_safetensors(folder + "/model.safetensors")
    result = {}
    for name in t:
        if name.endswith(".qweight"):
            prefix = name[:-len(".qweight")]
            result[prefix + ".weight"] = dequantize(t, prefix, qc["bits"], qc["group_size"], v1)
    write_safetensors(out_path, result)
    print(f"{len(result)} linears, {qc['bits']} bits, group_size {qc['group_size']}, "
          f"desc_act {qc['desc_act']}, format {qc.get('checkpoint_format', 'gptq')}")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
