"""Hugging Face PEFT + PyTorch reference for the demo recipe (run with the offline reference stack).

Usage: ~/.peft-ref/bin/python bench/reference/hf_sst2_lora.py [--model models/llama-mini-en] [--epochs 3]
       [--max_length 64] [--batch 32] [--lr 3e-3] [--r 8] [--alpha 16] [--targets all-linear] [--threads 2]
Prints one JSON line: {"model", "baseline_eval_accuracy", "eval_accuracy", "train_seconds", ...}.
Not used by the test suite.
"""
import argparse, csv, json, math, time

import torch
from transformers import AutoModelForSequenceClassification, AutoTokenizer, get_linear_schedule_with_warmup
from peft import LoraConfig, get_peft_model


def read_tsv(path):
    with open(path, newline="") as f:
        r = csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE)
        return [(row["sentence"], int(row["label"])) for row in r]


def evaluate(model, tok, rows, max_length, batch=64):
    model.eval()
    correct = 0
    with torch.no_grad():
        for i in range(0, len(rows), batch):
            chunk = rows[i : i + batch]
            enc = tok([t for t, _ in chunk], padding=True, truncation=True, max_length=max_length, return_tensors="pt")
            pred = model(**enc).logits.argmax(-1)
            correct += sum(int(p == y) for p, (_, y) in zip(pred.tolist(), chunk))
    return correct / len(rows)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="models/llama-mini-en")
    ap.add_argument("--train", default="data/sst2/train_5k.tsv")
    ap.add_argument("--dev", default="data/sst2/dev.tsv")
    ap.add_argument("--epochs", type=float, default=3)
    ap.add_argument("--max_length", type=int, default=64)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--r", type=int, default=8)
    ap.add_argument("--alpha", type=int, default=16)
    ap.add_argument("--targets", default="all-linear")
    ap.add_argument("--warmup_ratio", type=float, default=0.06)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    tok = AutoTokenizer.from_pretrained(a.model)
    model = AutoModelForSequenceClassification.from_pretrained(a.model, num_labels=2)
    if model.config.pad_token_id is None:
        model.config.pad_token_id = tok.pad_token_id
    train, dev = read_tsv(a.train), read_tsv(a.dev)
    baseline = evaluate(model, tok, dev, a.max_length)
    targets = a.targets if a.targets == "all-linear" else a.targets.split(",")
    cfg = LoraConfig(task_type="SEQ_CLS", r=a.r, lora_alpha=a.alpha, lora_dropout=0.0, target_modules=targets)
    model = get_peft_model(model, cfg)
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=a.lr, weight_decay=0.01)
    steps_per_epoch = math.ceil(len(train) / a.batch)
    total = int(math.ceil(steps_per_epoch * a.epochs))
    sched = get_linear_schedule_with_warmup(opt, int(math.ceil(a.warmup_ratio * total)), total)
    g = torch.Generator().manual_seed(a.seed)
    t0 = time.time()
    step = 0
    model.train()
    while step < total:
        order = torch.randperm(len(train), generator=g).tolist()
        for i in range(0, len(order), a.batch):
            if step >= total:
                break
            chunk = [train[j] for j in order[i : i + a.batch]]
            enc = tok([t for t, _ in chunk], padding=True, truncation=True, max_length=a.max_length, return_tensors="pt")
            out = model(**enc, labels=torch.tensor([y for _, y in chunk]))
            out.loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step(); sched.step(); opt.zero_grad()
            step += 1
    train_s = time.time() - t0
    acc = evaluate(model, tok, dev, a.max_length)
    print(json.dumps({"model": a.model, "recipe": vars(a), "baseline_eval_accuracy": baseline, "eval_accuracy": acc,
                      "train_seconds": round(train_s, 1), "steps": total}))


if __name__ == "__main__":
    main()
