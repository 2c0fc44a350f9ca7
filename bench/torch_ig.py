"""Reference timing for bench/explain.ts: Integrated Gradients (Gauss-Legendre, all path points in one batch
on inputs_embeds, one backward) and gradient x input with PyTorch on a transformers sequence classifier.
stdin: {"model": dir, "ids": [...], "baseline_ids": [...], "n_steps": n, "reps": r, "threads": t}; prints one JSON line."""
import json, sys, time
import numpy as np
import torch
from transformers import AutoModelForSequenceClassification


def main():
    cfg = json.load(sys.stdin)
    torch.set_num_threads(cfg["threads"])
    model = AutoModelForSequenceClassification.from_pretrained(cfg["model"], num_labels=2).eval()
    for p in model.parameters():
        p.requires_grad_(False)
    emb = model.get_input_embeddings().weight
    x, b = emb[torch.tensor(cfg["ids"])], emb[torch.tensor(cfg["baseline_ids"])]
    nodes, weights = np.polynomial.legendre.leggauss(cfg["n_steps"])
    a = torch.tensor((nodes + 1) / 2, dtype=torch.float32).view(-1, 1, 1)
    w = torch.tensor(weights / 2, dtype=torch.float32)

    def ig():
        path = (b + a * (x - b)).detach().requires_grad_(True)
        (model(inputs_embeds=path).logits[:, 1] * w).sum().backward()
        return ((x - b) * path.grad.sum(0)).sum(-1)

    def gxi():
        e = x[None].clone().requires_grad_(True)
        model(inputs_embeds=e).logits[0, 1].backward()
        return (e.grad * e).sum(-1)

    out = {}
    for name, fn in [("ig", ig), ("grad_x_input", gxi)]:
        fn()
        times = []
        for _ in range(cfg["reps"]):
            t0 = time.perf_counter()
            fn()
            times.append((time.perf_counter() - t0) * 1000)
        out[name] = float(np.median(times))
    print(json.dumps(out))


if __name__ == "__main__":
    main()
