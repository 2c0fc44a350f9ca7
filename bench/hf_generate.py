#!/usr/bin/env python3
"""Greedy generation throughput of a local HF causal LM with transformers (bench "infer" reference).

usage: hf_generate.py MODEL_DIR THREADS NEW_TOKENS REPS PROMPT_JSON
Loads MODEL_DIR with AutoModelForCausalLM (float32), generates NEW_TOKENS tokens greedily with the
KV cache (EOS stopping off, so every run makes NEW_TOKENS tokens) for each prompt row, after
one short warmup generate; prints one JSON line: median seconds, tok/s (new tokens of all rows per
second), the generated ids and peak RSS (MiB).
"""
import json
import resource
import statistics
import sys
import time

import torch
from transformers import AutoModelForCausalLM


def main():
    model_dir, threads, new_tokens, reps, prompt = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), json.loads(sys.argv[5])
    torch.set_num_threads(threads)
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
    model.eval()
    # no EOS stopping (as peft-ts's eosTokenId: null), so every run makes exactly NEW_TOKENS tokens
    # and the ids can be compared; min_new_tokens would instead mask EOS out of the argmax
    model.generation_config.eos_token_id = None
    ids = torch.tensor(prompt, dtype=torch.long)
    mask = torch.ones_like(ids)
    kw = dict(attention_mask=mask, do_sample=False, use_cache=True, pad_token_id=model.generation_config.pad_token_id or 0)
    with torch.inference_mode():
        model.generate(ids, max_new_tokens=8, **kw)
        times = []
        for _ in range(reps):
            t0 = time.perf_counter()
            out = model.generate(ids, max_new_tokens=new_tokens, **kw)
            times.append(time.perf_counter() - t0)
    med = statistics.median(times)
    print(json.dumps({
        "torch": torch.__version__, "transformers": __import__("transformers").__version__, "threads": torch.get_num_threads(),
        "times": times, "medianS": med, "tokPerS": ids.shape[0] * new_tokens / med,
        "tokens": out[:, ids.shape[1]:].tolist(), "peakRssMiB": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
    }))


if __name__ == "__main__":
    main()
