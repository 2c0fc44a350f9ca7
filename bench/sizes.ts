// Suite "sizes": real model sizes with random weights (no download). A Qwen2-0.5B-shaped decoder
// (hidden 896, 24 layers, 14 heads, 2 KV heads, intermediate 4864, vocab 151936, tied embeddings,
// q/k/v bias) and bert-small/bert-base: one LoRA all-linear training step (r 8, alpha 16, no dropout;
// forward + loss + backward + AdamW + zero grad) at batch 4 × seq 512 by default, bf16-stored frozen
// weights, gradient checkpointing on and off, side by side with PyTorch + PEFT
// (bench/reference/torch_sizes.py: transformers' own Qwen2/BERT, bf16 weights under autocast).
// Each case runs in its own process (peak RSS per case). bench/cost_curve.ts reuses runSizeCase.
// Worker: `node --import tsx bench/sizes.ts --worker '<json>'`.
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { BenchOptions, BenchRow, Suite } from "./common.js";
import { benchSrc, rateRow, runAsWorker } from "./common.js";
import { findTorchPython } from "./torch.js";
import {
  SHAPES, argValue, benchThreads, timeSteps, median, peakRssMiB, rssRow, runChild, runWorker, workerSetup,
} from "./lora.js";

export type SizeModel = "bert-small" | "bert-base" | "qwen2-0.5b";

export const QWEN2_05B: Record<string, unknown> = {
  model_type: "qwen2", vocab_size: 151936, hidden_size: 896, num_hidden_layers: 24, num_attention_heads: 14, num_key_value_heads: 2,
  intermediate_size: 4864, max_position_embeddings: 32768, rope_theta: 1000000.0, rms_norm_eps: 1e-6, tie_word_embeddings: true,
  hidden_act: "silu", attention_dropout: 0.0, use_sliding_window: false,
};

export function sizeConfig(model: SizeModel): Record<string, unknown> {
  if (model === "qwen2-0.5b") return QWEN2_05B;
  // the bench's BERT shapes, dropout off (the LoRA step is compared without dropout on both sides)
  return { ...SHAPES[model].hf, hidden_dropout_prob: 0, attention_probs_dropout_prob: 0 };
}

export const isBert = (m: SizeModel) => m !== "qwen2-0.5b";

/** LoRA all-linear targets (transformers/our module names). */
export function sizeTargets(model: SizeModel): string[] {
  return isBert(model) ? ["query", "key", "value", "output.dense", "intermediate.dense"] : ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"];
}

export interface SizeSpec {
  model: SizeModel;
  batch: number;
  seq: number;
  bf16: boolean;
  gc: boolean;
  threads: number;
  warmup: number;
  steps: number;
}

export interface SizeResult {
  tokPerS: number | null;
  peakRssMiB: number | null;
  info?: string;
}

async function sizeWorker(spec: SizeSpec): Promise<Record<string, unknown>> {
  const backend = await workerSetup(spec);
  const { parseConfig } = await import("../src/io/hf_config.js");
  const { AutoModelForSequenceClassification, AutoModelForCausalLM } = await import("../src/models/auto.js");
  const { getPeftModel, LoraConfig } = await import("../src/peft/index.js");
  const { AdamW } = await import("../src/train/optim/index.js");
  const { storeFrozenWeights } = await import("../src/train/amp.js");
  const { enableGradientCheckpointing } = await import("../src/train/grad_checkpoint.js");
  const { Rng } = await import("../src/tensor/random.js");
  const hf = sizeConfig(spec.model);
  const cfg = parseConfig(hf, `bench:${spec.model}`);
  const bert = isBert(spec.model);
  const base = bert ? AutoModelForSequenceClassification.fromConfig(cfg) : AutoModelForCausalLM.fromConfig(cfg);
  const pm = getPeftModel(base, new LoraConfig({
    taskType: bert ? "SEQ_CLS" : "CAUSAL_LM", r: 8, loraAlpha: 16, loraDropout: 0, targetModules: sizeTargets(spec.model),
  }));
  if (spec.bf16) storeFrozenWeights(pm, "bf16");
  if (spec.gc) enableGradientCheckpointing(pm);
  const params = pm.parameters().filter((p: { requiresGrad: boolean }) => p.requiresGrad);
  const opt = new AdamW(params, { lr: 1e-4, weightDecay: 0.01 });
  const rng = new Rng(1234);
  const V = hf.vocab_size as number;
  const ids = Array.from({ length: spec.batch }, () => Array.from({ length: spec.seq }, () => rng.randint(V)));
  const inputs: Record<string, unknown> = { inputIds: ids, attentionMask: ids.map((r) => r.map(() => 1)) };
  inputs.labels = bert ? ids.map(() => rng.randint(2)) : ids;
  if (bert) inputs.tokenTypeIds = ids.map((r) => r.map(() => 0));
  pm.train();
  let loss = NaN;
  const { times, foreign } = timeSteps(() => {
    const out = pm.forward(inputs);
    out.loss!.backward();
    opt.step();
    pm.zeroGrad();
    loss = out.loss!.item();
  }, spec.warmup, spec.steps);
  const med = median(times);
  return { backend, foreign, medianS: med, tokPerS: (spec.batch * spec.seq) / med, loss, peakRssMiB: peakRssMiB() };
}

/** Our side of one case (own process). */
export async function runOursSize(spec: SizeSpec): Promise<SizeResult> {
  const r = await runWorker(fileURLToPath(import.meta.url), spec);
  return r ? { tokPerS: r.tokPerS as number, peakRssMiB: r.peakRssMiB, info: `loss ${(r.loss as number).toFixed(3)}, foreign load ${(r.foreign as number).toFixed(2)}` } : { tokPerS: null, peakRssMiB: null };
}

/** PyTorch + PEFT on the same case (own process); nulls when torch/transformers/peft are unavailable or it fails (e.g. out of memory). */
export async function runTorchSize(spec: SizeSpec, attn = "eager"): Promise<SizeResult> {
  const py = findTorchPython();
  if (!py) return { tokPerS: null, peakRssMiB: null };
  const r = await runChild(py.python, [
    join(benchSrc, "reference", "torch_sizes.py"), "--config", JSON.stringify(sizeConfig(spec.model)), "--batch", String(spec.batch),
    "--seq", String(spec.seq), "--targets", sizeTargets(spec.model).join(","), "--dtype", spec.bf16 ? "bf16" : "fp32",
    "--gc", spec.gc ? "1" : "0", "--threads", String(spec.threads), "--warmup", String(spec.warmup), "--steps", String(spec.steps), "--attn", attn,
  ], 3_600_000, `torch_sizes ${spec.model} s${spec.seq}`);
  return r ? { tokPerS: r.tokens_per_s, peakRssMiB: r.peak_rss_mib, info: `loss ${Number(r.loss).toFixed(3)}` } : { tokPerS: null, peakRssMiB: null };
}

export const sizesSuite: Suite = {
  name: "sizes",
  description: "real sizes, random weights: Qwen2-0.5B-shaped LoRA all-linear step b4 s512, bf16 frozen, grad checkpointing on/off, vs PyTorch+PEFT (--model=qwen2-0.5b,bert-base,bert-small; --batch=N; --seq=N; --dtype=bf16|fp32; --gc=on,off; --torch-attn=eager|sdpa; --no-torch)",
  async run(opts: BenchOptions, emit: (r: BenchRow) => void): Promise<void> {
    const threads = await benchThreads(opts);
    const models = (argValue(opts, "--model") ?? "qwen2-0.5b").split(",") as SizeModel[];
    for (const m of models) if (!["bert-small", "bert-base", "qwen2-0.5b"].includes(m)) throw new Error(`--model: unknown size '${m}'`);
    const batch = Number(argValue(opts, "--batch") ?? 4), seq = Number(argValue(opts, "--seq") ?? 512);
    const bf16 = (argValue(opts, "--dtype") ?? "bf16") === "bf16";
    const gcs = (argValue(opts, "--gc") ?? "on,off").split(",").map((x) => x === "on");
    const attn = argValue(opts, "--torch-attn") ?? "eager";
    const torch = !opts.args.includes("--no-torch");
    const steps = opts.quick ? 1 : 2;
    if (!opts.json) {
      console.log(`# sizes: threads ${threads}; torch ${torch ? findTorchPython()?.version ?? "absent" : "off"} (attn ${attn}); warmup 1, median of ${steps}; each case in its own process; CPU shared with other jobs: noisy`);
    }
    for (const model of models) {
      for (const gc of gcs) {
        const spec: SizeSpec = { model, batch, seq, bf16, gc, threads, warmup: 1, steps };
        const name = `${model} lora-all ${bf16 ? "bf16" : "fp32"} b${batch}s${seq} gc ${gc ? "on" : "off"} t${threads}`;
        const ours = await runOursSize(spec);
        const ref = torch ? await runTorchSize(spec, attn) : { tokPerS: null, peakRssMiB: null };
        if (ours.tokPerS === null) continue;
        if (!opts.json) console.log(`#   ${name}: ours ${ours.info}; torch ${ref.info ?? "n/a"}`);
        emit(rateRow("sizes", `${name} tok/s`, ours.tokPerS, ref.tokPerS, "tok/s"));
        emit(rssRow("sizes", `${name} rss`, ours.peakRssMiB!, ref.peakRssMiB));
      }
    }
  },
};

runAsWorker(import.meta.url, sizeWorker);
