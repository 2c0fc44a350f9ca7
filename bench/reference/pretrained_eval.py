"""PyTorch / transformers reference for the pretrained mini models' validation-style figures.

Usage (from the repository root, with the offline reference stack):
    ~/.peft-ref/bin/python bench/reference/pretrained_eval.py [--out test/fixtures/reference/pretrained_eval.json]

Writes the JSON that test/models/pretrained_eval.test.ts replays on our side. Not needed by the test suite.

Why not PRETRAINED.md's own validation split: it is 2% of the documents of each source (random, seed 1234),
drawn from seven sources, two of which (Debian fortunes, WordNet glosses) are not shipped here, and the chosen
documents are not listed. So the literal figures (llama val loss 4.281 / ppl 72.3 / next-token acc 29.2%; bert
val MLM loss 4.028 / acc 36.0%, train sample 3.866 / 37.9%) cannot be recomputed on the same text. Instead this
script fixes an evaluation text built the way PRETRAINED.md builds its corpus documents, from the five shipped
sources, and measures both models on it with the two objectives exactly as PRETRAINED.md describes them.

Evaluation set (SELECTION below; the same rule is written into the JSON):
  documents are rebuilt as in PRETRAINED.md's corpus table
    alpaca_libre  fixtures/lm/alpaca_libre_tasks_v1.jsonl, status == "ok" rows (1202): instruction, input,
                  output joined with "\n" (empty parts left out)
    selfinstruct  fixtures/lm/selfinstruct_seed_tasks.jsonl (175): instruction, then each instance's input
                  and output, joined with "\n" (empty parts left out)
    shakespeare   fixtures/lm/tinyshakespeare.txt, blank-line separated speeches (7222) grouped into docs of
                  consecutive speeches, a doc closing once its speeches total >= 600 characters (1373 docs,
                  the last one the 1-speech remainder), speeches joined with "\n\n"
    sst2          fixtures/sst2/train.tsv sentences (not dev.tsv), unique, minus those that are a contiguous
                  word span of another row (6885 sentences)
    wnut17        fixtures/ner/wnut17_train.conll sentences (3394), tokens joined by single spaces
  from each source, the documents are ordered by sha256(utf-8 text) (hex, ascending) and the first
  PER_SOURCE[source] are taken; all selected documents are then ordered by sha256 again (sources interleave).
  These are (almost surely) mostly training documents: PRETRAINED.md held out only 2% of each source.

Objectives:
  llama  token stream [CLS] doc [SEP] [CLS] doc [SEP] ... over the ordered documents (ids from the model's
         tokenizer without special tokens), cut into consecutive non-overlapping 257-token windows (the
         incomplete tail is dropped); each window is fed as 256 inputs predicting the next 256 tokens.
         Mean NLL over all predictions, perplexity = exp(mean NLL), next-token accuracy = argmax == target.
  bert   sequences of at most 128 tokens packed greedily in document order as [CLS] doc1 [SEP] doc2 [SEP] ...
         (a document longer than 126 tokens is split into 126-token pieces first; a piece that does not fit
         the open sequence starts a new one); token_type_ids 0, no padding (each sequence run on its own).
         Fixed masking: numpy default_rng(MASK_SEED); per sequence, in order, k = max(1, floor(0.15 * n + 0.5)) of
         its n non-special positions (ids >= 5) are drawn without replacement (rng.choice) and sorted; per
         chosen position in order, u = rng.random(): u < 0.8 -> [MASK] (4), u < 0.9 -> rng.integers(5, 8000),
         else kept. The masked input ids, label positions and label ids are written to the JSON, so the
         replaying side needs no RNG. Masked-token mean CE and accuracy (argmax == original id).
  Logits are float32 (model.eval(), so dropout off); log-softmax and sums are float64.
"""
import argparse, csv, hashlib, json, math, os, platform, sys

import numpy as np
import torch
import tokenizers
import transformers
from transformers import AutoModelForCausalLM, AutoModelForMaskedLM, AutoTokenizer

FIX = "/work/shared/fixtures"
PER_SOURCE = {"alpaca_libre": 10, "selfinstruct": 4, "shakespeare": 5, "sst2": 24, "wnut17": 16}
MASK_SEED = 7
WINDOW = 257
BERT_MAX = 128
SPECIAL_MAX_ID = 4  # [PAD] [UNK] [CLS] [SEP] [MASK] = 0..4
CLS, SEP, MASK = 2, 3, 4
VOCAB = 8000

SELECTION = (
    "documents rebuilt per PRETRAINED.md's corpus table from the shipped sources (alpaca_libre status==ok rows: "
    "instruction/input/output joined by newline; selfinstruct: instruction + instance inputs/outputs joined by newline; "
    "shakespeare: blank-line separated speeches grouped into docs closing once their speeches total >= 600 chars, joined "
    "by blank lines; sst2: train.tsv sentences, unique, minus contiguous word spans of another row; wnut17: train.conll "
    "sentences, tokens joined by spaces); per source ordered by sha256(utf-8 text) ascending, first N taken "
    f"(N = {json.dumps(PER_SOURCE)}); the union ordered by sha256 again"
)


def sha(s):
    return hashlib.sha256(s.encode("utf-8")).hexdigest()


def load_sources():
    src = {}
    rows = [json.loads(l) for l in open(f"{FIX}/lm/alpaca_libre_tasks_v1.jsonl", encoding="utf-8")]
    src["alpaca_libre"] = [
        "\n".join(p for p in (r["instruction"], r["input"], r["output"]) if p.strip()) for r in rows if r["status"] == "ok"
    ]
    docs = []
    for l in open(f"{FIX}/lm/selfinstruct_seed_tasks.jsonl", encoding="utf-8"):
        t = json.loads(l)
        parts = [t["instruction"]]
        for inst in t["instances"]:
            parts += [inst["input"], inst["output"]]
        docs.append("\n".join(p for p in parts if p.strip()))
    src["selfinstruct"] = docs
    speeches = [s.strip() for s in open(f"{FIX}/lm/tinyshakespeare.txt", encoding="utf-8").read().split("\n\n") if s.strip()]
    docs, cur = [], []
    for s in speeches:
        cur.append(s)
        if sum(len(x) for x in cur) >= 600:
            docs.append("\n\n".join(cur))
            cur = []
    if cur:
        docs.append("\n\n".join(cur))
    src["shakespeare"] = docs
    with open(f"{FIX}/sst2/train.tsv", newline="", encoding="utf-8") as f:
        uniq = list(dict.fromkeys(r["sentence"].strip() for r in csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE)))
    spans = set()
    for s in uniq:
        w = s.split()
        n = len(w)
        for i in range(n):
            for j in range(i + 1, n + 1):
                if j - i < n:
                    spans.add(" ".join(w[i:j]))
    src["sst2"] = [s for s in uniq if s not in spans]
    sents, cur = [], []
    for line in open(f"{FIX}/ner/wnut17_train.conll", encoding="utf-8"):
        line = line.rstrip("\n")
        if line.strip():
            cur.append(line.split("\t")[0])
        elif cur:
            sents.append(" ".join(cur))
            cur = []
    if cur:
        sents.append(" ".join(cur))
    src["wnut17"] = sents
    return src


def select(src):
    expect = {"alpaca_libre": 1202, "selfinstruct": 175, "shakespeare": 1373, "sst2": 6885, "wnut17": 3394}
    for k, n in expect.items():
        assert len(src[k]) == n, f"{k}: {len(src[k])} docs, PRETRAINED.md says {n}"
    chosen = []
    for k, n in PER_SOURCE.items():
        order = sorted(range(len(src[k])), key=lambda i: sha(src[k][i]))
        chosen += [{"source": k, "index": i, "text": src[k][i]} for i in order[:n]]
    chosen.sort(key=lambda d: sha(d["text"]))
    return chosen


def nll_and_correct(logits, targets):
    """logits [T, V] float32, targets [T] -> (per-target -log p(target) in float64, per-target argmax == target)."""
    lp = logits.double().log_softmax(-1)
    nll = -lp.gather(1, targets[:, None]).squeeze(1)
    return nll.tolist(), (logits.argmax(-1) == targets).tolist()


def add_by_source(acc, owners, nll, hit):
    for o, n, h in zip(owners, nll, hit):
        e = acc.setdefault(o, {"count": 0, "nll": 0.0, "correct": 0})
        e["count"] += 1
        e["nll"] += n
        e["correct"] += int(h)


def finish_by_source(acc):
    return {k: {**v, "loss": v["nll"] / v["count"], "accuracy": v["correct"] / v["count"]} for k, v in sorted(acc.items())}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--llama", default="models/llama-mini-en")
    ap.add_argument("--bert", default="models/bert-mini-en")
    ap.add_argument("--out", default="test/fixtures/reference/pretrained_eval.json")
    args = ap.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(0)

    docs = select(load_sources())
    tl = AutoTokenizer.from_pretrained(args.llama)
    tb = AutoTokenizer.from_pretrained(args.bert)
    for d in docs:
        d["ids"] = tl(d["text"], add_special_tokens=False)["input_ids"]
        assert d["ids"] == tb(d["text"], add_special_tokens=False)["input_ids"], "the two tokenizers disagree"
        assert len(d["ids"]) > 0

    # ---- llama: packed causal LM
    stream, owner = [], []  # owner: the source of the document each token belongs to (for the per-source breakdown)
    for d in docs:
        stream += [CLS] + d["ids"] + [SEP]
        owner += [d["source"]] * (len(d["ids"]) + 2)
    nwin = len(stream) // WINDOW
    windows = [stream[i * WINDOW : (i + 1) * WINDOW] for i in range(nwin)]
    llama = AutoModelForCausalLM.from_pretrained(args.llama).eval()
    w_nll, w_cor, l_src = [], [], {}
    with torch.no_grad():
        for i, w in enumerate(windows):
            x = torch.tensor([w[:-1]])
            logits = llama(input_ids=x).logits[0].float()
            nll, hit = nll_and_correct(logits, torch.tensor(w[1:]))
            w_nll.append(sum(nll))
            w_cor.append(sum(hit))
            add_by_source(l_src, owner[i * WINDOW + 1 : (i + 1) * WINDOW], nll, hit)
    n_pred = nwin * (WINDOW - 1)
    l_loss = sum(w_nll) / n_pred
    llama_out = {
        "objective": "packed causal LM: [CLS] doc [SEP] stream, consecutive 257-token windows, 256 predictions each",
        "stream_tokens": len(stream),
        "dropped_tail_tokens": len(stream) - nwin * WINDOW,
        "windows": windows,
        "window_nll_sum": w_nll,
        "window_correct": w_cor,
        "predictions": n_pred,
        "total_nll": sum(w_nll),
        "loss": l_loss,
        "perplexity": math.exp(l_loss),
        "correct": sum(w_cor),
        "accuracy": sum(w_cor) / n_pred,
        "by_source_of_target": finish_by_source(l_src),
    }

    # ---- bert: packed MLM with a fixed masking
    pieces = []
    for d in docs:
        ids = d["ids"]
        pieces += [(d["source"], ids[i : i + BERT_MAX - 2]) for i in range(0, len(ids), BERT_MAX - 2)]
    seqs, owners, cur, cur_own = [], [], [CLS], [None]
    for src_name, p in pieces:
        if len(cur) + len(p) + 1 > BERT_MAX:
            seqs.append(cur)
            owners.append(cur_own)
            cur, cur_own = [CLS], [None]
        cur += p + [SEP]
        cur_own += [src_name] * (len(p) + 1)
    if len(cur) > 1:
        seqs.append(cur)
        owners.append(cur_own)
    rng = np.random.default_rng(MASK_SEED)
    bert = AutoModelForMaskedLM.from_pretrained(args.bert).eval()
    sequences, s_nll, s_cor, b_src = [], [], [], {}
    with torch.no_grad():
        for seq, own in zip(seqs, owners):
            cand = [i for i, t in enumerate(seq) if t > SPECIAL_MAX_ID]
            k = max(1, math.floor(0.15 * len(cand) + 0.5))  # half up, as JS Math.round
            pos = sorted(int(p) for p in rng.choice(cand, size=k, replace=False))
            masked = list(seq)
            for p in pos:
                u = rng.random()
                if u < 0.8:
                    masked[p] = MASK
                elif u < 0.9:
                    masked[p] = int(rng.integers(SPECIAL_MAX_ID + 1, VOCAB))
            labels = [seq[p] for p in pos]
            x = torch.tensor([masked])
            logits = bert(input_ids=x, token_type_ids=torch.zeros_like(x)).logits[0].float()
            nll, hit = nll_and_correct(logits[pos], torch.tensor(labels))
            s_nll.append(sum(nll))
            s_cor.append(sum(hit))
            add_by_source(b_src, [own[p] for p in pos], nll, hit)
            sequences.append({"input_ids": seq, "masked_input_ids": masked, "label_positions": pos, "label_ids": labels})
    n_mask = sum(len(s["label_positions"]) for s in sequences)
    b_loss = sum(s_nll) / n_mask
    bert_out = {
        "objective": "packed MLM: [CLS] doc1 [SEP] doc2 [SEP] ... up to 128 tokens, fixed 15% masking 80/10/10",
        "mask_seed": MASK_SEED,
        "sequences": sequences,
        "sequence_nll_sum": s_nll,
        "sequence_correct": s_cor,
        "masked_tokens": n_mask,
        "total_nll": sum(s_nll),
        "loss": b_loss,
        "perplexity": math.exp(b_loss),
        "correct": sum(s_cor),
        "accuracy": sum(s_cor) / n_mask,
        "by_source": finish_by_source(b_src),
    }

    per_source = {}
    for d in docs:
        e = per_source.setdefault(d["source"], {"docs": 0, "tokens": 0})
        e["docs"] += 1
        e["tokens"] += len(d["ids"])
    out = {
        "description": "Evaluation of the pretrained mini models on a fixed text set built from the shipped sources "
        "(PRETRAINED.md's own validation split is not shipped); see bench/reference/pretrained_eval.py.",
        "command": " ".join(["~/.peft-ref/bin/python", "bench/reference/pretrained_eval.py"] + sys.argv[1:]),
        "versions": {
            "python": platform.python_version(),
            "torch": torch.__version__,
            "transformers": transformers.__version__,
            "tokenizers": tokenizers.__version__,
            "numpy": np.__version__,
        },
        "models": {"llama": args.llama, "bert": args.bert},
        "selection": SELECTION,
        "per_source": per_source,
        "documents": [{"source": d["source"], "index": d["index"], "text": d["text"], "ids": d["ids"]} for d in docs],
        "llama": llama_out,
        "bert": bert_out,
    }
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w", encoding="utf-8") as f:
        json.dump(out, f, ensure_ascii=False, separators=(",", ":"))
        f.write("\n")
    summary = {
        "docs": len(docs),
        "per_source": per_source,
        "llama": {k: llama_out[k] for k in ("stream_tokens", "dropped_tail_tokens", "predictions", "loss", "perplexity", "accuracy")},
        "bert": {k: bert_out[k] for k in ("masked_tokens", "loss", "perplexity", "accuracy")},
        "llama_by_source": {k: (v["count"], round(v["loss"], 3), round(v["accuracy"], 3)) for k, v in llama_out["by_source_of_target"].items()},
        "bert_by_source": {k: (v["count"], round(v["loss"], 3), round(v["accuracy"], 3)) for k, v in bert_out["by_source"].items()},
        "bert_sequences": len(sequences),
        "bert_tokens": sum(len(s["input_ids"]) for s in sequences),
    }
    print(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
