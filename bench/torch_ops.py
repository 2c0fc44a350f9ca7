#!/usr/bin/env python3
"""PyTorch side of `npm run bench -- ops`: times the same ops, shapes, dtype and thread count.

Runs as a small server so the benchmark can interleave PyTorch and our timings (both then see
the same background load). Protocol, one JSON object per line:
  stdin  {"cmd": "case", "case": name, "op": ..., shape fields...}   defines a case (no reply)
  stdin  {"cmd": "time", "case": name, "reps": n}                     replies {"case", "ms"} (median ms,
                                                                       null for an op this script lacks)
  stdin  {"cmd": "quit"}
The first line written is {"torch": version, "threads": n}.
"""
import json
import sys
import time

import torch
import torch.nn.functional as F


def timeit(fn, reps, warmup=2):
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1e3)
    times.sort()
    return times[len(times) // 2]


def make(case):
    op = case["op"]
    g = torch.Generator().manual_seed(0)
    rn = lambda *s: torch.randn(*s, generator=g)
    if op in ("gemm_f32", "gemm_bf16"):
        m, n, k = case["m"], case["n"], case["k"]
        x, w = rn(m, k), rn(n, k)
        if op == "gemm_bf16":
            x, w = x.bfloat16(), w.bfloat16()
        return lambda: F.linear(x, w)
    if op == "softmax":
        x = rn(case["rows"], case["cols"])
        return lambda: torch.softmax(x, -1)
    if op == "layernorm":
        x, w, b = rn(case["rows"], case["cols"]), rn(case["cols"]), rn(case["cols"])
        return lambda: F.layer_norm(x, (case["cols"],), w, b, 1e-12)
    if op == "gelu":
        x = rn(case["n"])
        return lambda: F.gelu(x)
    if op == "gelu_backward":
        x, g = rn(case["n"]), rn(case["n"])
        return lambda: torch.ops.aten.gelu_backward(g, x)
    if op == "bias_gelu":
        # PyTorch has no fused CPU bias+GELU: its two ops are the reference
        x, b = rn(case["rows"], case["cols"]), rn(case["cols"])
        return lambda: F.gelu(x + b)
    if op == "bias_gelu_backward":
        # autograd of F.gelu(x + b): gelu_backward, and the bias gradient as a sum over rows
        z, g = rn(case["rows"], case["cols"]), rn(case["rows"], case["cols"])
        def bwd():
            gz = torch.ops.aten.gelu_backward(g, z)
            return gz, gz.sum(0)
        return bwd
    if op == "cross_entropy":
        x = rn(case["rows"], case["cols"])
        y = torch.randint(0, case["cols"], (case["rows"],), generator=g)
        return lambda: F.cross_entropy(x, y)
    if op in ("attention", "attention_eager", "attention_fwd_bwd"):
        b, h, t, d = case["batch"], case["heads"], case["seq"], case["dim"]
        q, k, v = rn(b, h, t, d), rn(b, h, t, d), rn(b, h, t, d)
        mask = torch.zeros(b, 1, 1, t)
        mask[:, :, :, -8:] = torch.finfo(torch.float32).min
        if op == "attention":
            return lambda: F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
        if op == "attention_eager":
            def eager():
                s = torch.matmul(q, k.transpose(-1, -2)) * (d ** -0.5) + mask
                p = torch.softmax(s, -1)
                return torch.matmul(p, v), p
            return eager
        qg, kg, vg = (t_.clone().requires_grad_(True) for t_ in (q, k, v))
        go = rn(b, h, t, d)
        def fwd_bwd():
            s = torch.matmul(qg, kg.transpose(-1, -2)) * (d ** -0.5) + mask
            o = torch.matmul(torch.softmax(s, -1), vg)
            o.backward(go)
            qg.grad = kg.grad = vg.grad = None
        return fwd_bwd
    if op == "adamw":
        n = case["n"]
        p = torch.nn.Parameter(rn(n))
        p.grad = rn(n)
        opt = torch.optim.AdamW([p], lr=1e-4, weight_decay=0.01, foreach=False)
        return opt.step
    return None


def main():
    threads = int(sys.argv[1]) if len(sys.argv) > 1 else torch.get_num_threads()
    torch.set_num_threads(threads)
    print(json.dumps({"torch": torch.__version__, "threads": threads}), flush=True)
    specs, fns = {}, {}
    for line in sys.stdin:
        if not line.strip():
            continue
        msg = json.loads(line)
        cmd = msg.get("cmd")
        if cmd == "quit":
            break
        if cmd == "case":
            specs[msg["case"]] = msg
            continue
        if cmd == "time":
            name = msg["case"]
            if name not in fns:
                fns[name] = make(specs[name]) if name in specs else None
            fn = fns[name]
            ms = None if fn is None else timeit(fn, msg.get("reps", 10), msg.get("warmup", 2))
            print(json.dumps({"case": name, "ms": ms}), flush=True)


if __name__ == "__main__":
    main()
