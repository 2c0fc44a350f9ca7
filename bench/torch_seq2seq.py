"""The PyTorch side of `npm run bench -- seq2seq`: a t5-small-shaped T5ForConditionalGeneration (random init,
d_model 512, 6+6 layers, 8 heads, d_ff 2048, vocab 32128, dropout 0) and
  --mode train:     one PEFT LoRA step (r 8, alpha 16, PEFT's T5 targets q/v, AdamW lr 1e-4): forward with
                    labels, backward, optimizer step, zero grad; batch --batch, source --src, target --tgt
  --mode generate:  transformers generate(), beam search --beams, exactly --new tokens (min = max new tokens)
Prints one JSON line: median step seconds (wall and this process's CPU seconds: on a loaded machine the
CPU time at --threads 1 is the steadier figure), peak RSS (MiB), the cores other processes used while timing.
Run by bench/seq2seq.ts in its own process; benchmarks only (the library never needs Python)."""
import argparse
import json
import os
import resource
import time


def cpu_snapshot():
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    busy = (sum(v[:8]) - v[3] - v[4]) / os.sysconf("SC_CLK_TCK")
    t = os.times()
    return busy, t.user + t.system, time.perf_counter()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mode", choices=["train", "generate"], required=True)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--src", type=int, default=128)
    ap.add_argument("--tgt", type=int, default=64)
    ap.add_argument("--beams", type=int, default=4)
    ap.add_argument("--new", type=int, default=32)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--steps", type=int, default=3)
    a = ap.parse_args()
    import torch
    torch.set_num_threads(a.threads)
    from transformers import T5Config, T5ForConditionalGeneration

    torch.manual_seed(0)
    cfg = T5Config(vocab_size=32128, d_model=512, d_kv=64, d_ff=2048, num_layers=6, num_decoder_layers=6, num_heads=8,
                   dropout_rate=0.0, feed_forward_proj="relu", decoder_start_token_id=0, pad_token_id=0, eos_token_id=1)
    model = T5ForConditionalGeneration(cfg)
    g = torch.Generator().manual_seed(1234)
    ids = torch.randint(2, cfg.vocab_size, (a.batch, a.src), generator=g)
    mask = torch.ones_like(ids)
    times = []
    if a.mode == "train":
        from peft import LoraConfig, get_peft_model
        from transformers.generation.utils import GenerationMixin
        # peft 0.21's PeftModelForSeq2SeqLM reads a generation hook transformers 5.18 renamed (unused by LoRA)
        if not hasattr(GenerationMixin, "_prepare_encoder_decoder_kwargs_for_generation"):
            GenerationMixin._prepare_encoder_decoder_kwargs_for_generation = (
                GenerationMixin._prepare_text_encoder_decoder_kwargs_for_generation)
        model = get_peft_model(model, LoraConfig(task_type="SEQ_2_SEQ_LM", r=8, lora_alpha=16, lora_dropout=0.0))
        model.train()
        labels = torch.randint(2, cfg.vocab_size, (a.batch, a.tgt), generator=g)
        opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4, weight_decay=0.01)
        step = lambda: (model(input_ids=ids, attention_mask=mask, labels=labels).loss.backward(), opt.step(), opt.zero_grad())
    else:
        model.eval()

        def step():
            with torch.no_grad():
                out = model.generate(input_ids=ids, attention_mask=mask, num_beams=a.beams, max_new_tokens=a.new,
                                     min_new_tokens=a.new, do_sample=False)
            assert out.shape[1] == a.new + 1, out.shape
    cpu_times = []
    for i in range(a.warmup + a.steps):
        if i == a.warmup:
            snap0 = cpu_snapshot()
        t0, c0 = time.perf_counter(), os.times()
        step()
        c1 = os.times()
        if i >= a.warmup:
            times.append(time.perf_counter() - t0)
            cpu_times.append(c1.user + c1.system - c0.user - c0.system)
    b1, o1, w1 = cpu_snapshot()
    b0, o0, w0 = snap0
    def median(xs):
        xs = sorted(xs)
        return xs[len(xs) // 2] if len(xs) % 2 else (xs[len(xs) // 2 - 1] + xs[len(xs) // 2]) / 2
    print(json.dumps({
        "mode": a.mode, "median_s": median(times), "median_cpu_s": median(cpu_times), "times": times, "torch": torch.__version__,
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "foreign_cpu_cores_avg": ((b1 - b0) - (o1 - o0)) / (w1 - w0),
    }))


if __name__ == "__main__":
    main()
