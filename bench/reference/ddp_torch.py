#!/usr/bin/env python3
"""One rank of the PyTorch DDP (gloo) reference of `npm run bench -- dist` (bench/dist.ts).

bench/dist.ts starts WORLD_SIZE of these with MASTER_ADDR=127.0.0.1, MASTER_PORT, RANK, WORLD_SIZE
(no torchrun) and one JSON spec as argv[1]:
  {"kind": "bert"|"llama", "hf": {<HF config dict>}, "mode": "lora"|"lora-all"|"full", "targets": [...],
   "batch": B, "seq": T, "warmup": W, "steps": S, "threads": 1, "bucket_cap_mb": 25}
Model: transformers BertForSequenceClassification / LlamaForCausalLM with random (HF-init) weights of
the bench shape; LoRA through HF PEFT (r 8, alpha 16, dropout 0, the given targets) or full
fine-tuning; DistributedDataParallel over gloo; a step = forward + loss + backward (DDP's bucketed
allreduce) + clip 1.0 + AdamW (lr 1e-4, wd 0.01) + linear schedule + zero_grad, like our Trainer.

Communication figures, from a DDP comm hook that does what the default hook does (divide by the
world size, async all_reduce) and records each bucket's [launch, completion] on the perf clock:
  bytes/step    sum of the bucket buffers' bytes
  collective    length of the union of those intervals (time some allreduce was in flight)
  exposed wait  backward's return − the last trainable gradient's accumulation (post-accumulate-grad
                hooks): how long backward was held by communication after its compute was done
  hidden share  1 − exposed / collective
Each rank prints one JSON line (rank, step times, figures, peak RSS).
"""
import json
import os
import resource
import statistics
import sys
import time

import torch
import torch.distributed as dist


def main():
    spec = json.loads(sys.argv[1])
    torch.set_num_threads(int(spec.get("threads", 1)))
    rank, world = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
    dist.init_process_group("gloo", rank=rank, world_size=world)

    import transformers
    from transformers import AutoConfig
    transformers.logging.set_verbosity_error()
    hf = dict(spec["hf"])
    model_type = hf.pop("model_type")
    cfg = AutoConfig.for_model(model_type, **hf)
    torch.manual_seed(0)
    if spec["kind"] == "bert":
        from transformers import BertForSequenceClassification
        model = BertForSequenceClassification(cfg)
    else:
        from transformers import LlamaForCausalLM
        model = LlamaForCausalLM(cfg)
    if spec["mode"] != "full":
        from peft import LoraConfig, get_peft_model
        model = get_peft_model(model, LoraConfig(task_type="SEQ_CLS" if spec["kind"] == "bert" else "CAUSAL_LM", r=8,
                                                 lora_alpha=16, lora_dropout=0.0, target_modules=spec["targets"]))
    model.train()
    trainable = [p for p in model.parameters() if p.requires_grad]
    n_trainable = sum(p.numel() for p in trainable)

    from torch.nn.parallel import DistributedDataParallel as DDP
    ddp = DDP(model, bucket_cap_mb=spec.get("bucket_cap_mb", 25))

    rec = []  # (launch, completion, bytes) of this step's buckets

    def hook(_state, bucket):
        buf = bucket.buffer()
        buf.div_(world)
        t0 = time.perf_counter()
        fut = dist.all_reduce(buf, async_op=True).get_future()

        def done(f):
            rec.append((t0, time.perf_counter(), buf.numel() * buf.element_size()))
            return f.value()[0]
        return fut.then(done)

    ddp.register_comm_hook(None, hook)
    last_grad = [0.0]

    def on_grad(_p):
        last_grad[0] = time.perf_counter()
    for p in trainable:
        p.register_post_accumulate_grad_hook(on_grad)

    B, T = spec["batch"], spec["seq"]
    g = torch.Generator().manual_seed(1234 + rank)
    ids = torch.randint(0, cfg.vocab_size, (B, T), generator=g)
    if spec["kind"] == "bert":
        inputs = dict(input_ids=ids, attention_mask=torch.ones_like(ids), token_type_ids=torch.zeros_like(ids),
                      labels=torch.randint(0, 2, (B,), generator=g))
    else:
        inputs = dict(input_ids=ids, labels=ids)

    total = spec["warmup"] + spec["steps"]
    opt = torch.optim.AdamW(trainable, lr=1e-4, weight_decay=0.01)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: max(0.0, (total - s) / total))
    times, bytes_, coll, exposed, nbuckets = [], [], [], [], []
    for i in range(total):
        rec.clear()
        t0 = time.perf_counter()
        out = ddp(**inputs)
        out.loss.backward()
        t_bwd = time.perf_counter()
        torch.nn.utils.clip_grad_norm_(trainable, 1.0)
        opt.step()
        sched.step()
        opt.zero_grad(set_to_none=True)
        dt = time.perf_counter() - t0
        if i < spec["warmup"]:
            continue
        times.append(dt)
        ivs = sorted((a, b) for a, b, _ in rec)
        union, end = 0.0, -1e300
        for a, b in ivs:
            if b <= end:
                continue
            union += b - max(a, end)
            end = b
        coll.append(union)
        exposed.append(max(0.0, t_bwd - last_grad[0]))
        bytes_.append(sum(n for _, _, n in rec))
        nbuckets.append(len(rec))
    s_coll, s_exp = sum(coll), sum(exposed)
    print(json.dumps({
        "rank": rank, "world": world, "torch": torch.__version__, "trainable": n_trainable, "times": times,
        "medianS": statistics.median(times), "bytesPerStep": statistics.mean(bytes_), "buckets": nbuckets[-1],
        "collectiveMs": 1000 * s_coll / len(coll), "waitMs": 1000 * s_exp / len(exposed),
        "hiddenShare": None if s_coll <= 0 else min(1.0, max(0.0, 1 - s_exp / s_coll)),
        "loss": float(out.loss.detach()), "peakRssMiB": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }), flush=True)
    dist.barrier()
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
