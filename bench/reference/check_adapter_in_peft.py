"""Loads an adapter written by peft-ts into HF PEFT and measures SST-2 dev accuracy (reference stack only; not in tests).
Usage: ~/.peft-ref/bin/python bench/reference/check_adapter_in_peft.py [ADAPTER_DIR]"""
import sys
import csv, torch, json
from transformers import AutoModelForSequenceClassification, AutoTokenizer
from peft import PeftModel
torch.set_num_threads(1)
tok = AutoTokenizer.from_pretrained("models/llama-mini-en")
base = AutoModelForSequenceClassification.from_pretrained("models/llama-mini-en", num_labels=2)
base.config.pad_token_id = tok.pad_token_id
m = PeftModel.from_pretrained(base, sys.argv[1] if len(sys.argv) > 1 else "demo-output/adapter").eval()
rows = [(r["sentence"], int(r["label"])) for r in csv.DictReader(open("data/sst2/dev.tsv"), delimiter="\t", quoting=csv.QUOTE_NONE)]
c = 0
with torch.no_grad():
    for i in range(0, len(rows), 64):
        ch = rows[i:i+64]
        enc = tok([t for t, _ in ch], padding=True, truncation=True, max_length=64, return_tensors="pt")
        c += sum(int(p == y) for p, (_, y) in zip(m(**enc).logits.argmax(-1).tolist(), ch))
print(json.dumps({"hf_peft_accuracy_of_our_adapter": c / len(rows)}))
