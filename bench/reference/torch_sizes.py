"""PyTorch + PEFT side of `npm run bench -- sizes` and bench/cost_curve.ts: one LoRA training step
(forward + loss + backward + AdamW step + zero grad) of a randomly initialised transformers model built
from an HF config dict (no download), tokens/s and peak RSS as one JSON line.

  python torch_sizes.py --config '<json hf config>' --batch 4 --seq 512 --targets q_proj,v_proj,... \
      --dtype bf16 --gc 1 --threads 2 --warmup 1 --steps 2 [--attn eager|sdpa]

bf16: frozen base weights stored bf16, LoRA weights f32, the step under torch.autocast(bfloat16)
(PyTorch's fastest CPU configuration on AVX512_BF16/AMX hardware); fp32: everything f32.
gc: transformers' gradient checkpointing (non-reentrant) on the decoder/encoder layers.
"""
import argparse
import json
import resource
import time

import torch


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--config", required=True)
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--seq", type=int, default=512)
    ap.add_argument("--targets", required=True)
    ap.add_argument("--dtype", choices=["fp32", "bf16"], default="bf16")
    ap.add_argument("--gc", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--steps", type=int, default=2)
    ap.add_argument("--attn", default="eager")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(1234)
    import transformers
    from peft import LoraConfig, get_peft_model

    hf = json.loads(args.config)
    cfg = transformers.AutoConfig.for_model(**hf)
    cfg._attn_implementation = args.attn
    causal = hf["model_type"] != "bert"
    cls = transformers.AutoModelForCausalLM if causal else transformers.AutoModelForSequenceClassification
    model = cls.from_config(cfg, attn_implementation=args.attn)
    bf16 = args.dtype == "bf16"
    if bf16:
        model = model.to(torch.bfloat16)
    pm = get_peft_model(model, LoraConfig(task_type="CAUSAL_LM" if causal else "SEQ_CLS", r=8, lora_alpha=16,
                                          lora_dropout=0.0, target_modules=args.targets.split(",")))
    for p in pm.parameters():
        if p.requires_grad:
            p.data = p.data.float()
    if args.gc:
        pm.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
        pm.enable_input_require_grads()
    pm.train()
    opt = torch.optim.AdamW([p for p in pm.parameters() if p.requires_grad], lr=1e-4, weight_decay=0.01)
    g = torch.Generator().manual_seed(1234)
    ids = torch.randint(0, hf["vocab_size"], (args.batch, args.seq), generator=g)
    inputs = {"input_ids": ids, "attention_mask": torch.ones_like(ids)}
    inputs["labels"] = ids if causal else torch.randint(0, 2, (args.batch,), generator=g)
    times = []
    for i in range(args.warmup + args.steps):
        t0 = time.perf_counter()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            loss = pm(**inputs).loss
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        if i >= args.warmup:
            times.append(time.perf_counter() - t0)
    times.sort()
    med = times[len(times) // 2]
    print(json.dumps({"tokens_per_s": args.batch * args.seq / med, "median_s": med, "loss": float(loss.detach()),
                      "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                      "torch": torch.__version__, "transformers": transformers.__version__}))


if __name__ == "__main__":
    main()
