// Profiles one LoRA training step of the demo recipe (llama-mini-en seq-cls, LoRA r=8 all-linear,
// batch 32, max_length 64, AdamW, clip 1.0): forward / backward / clip+optimizer timed separately,
// plus the collator and a few real Trainer steps. Optional synthetic shapes from
// /work/shared/bench/torch_peft_bench.py: --shape bert-small (b8 s128) | llama-small (b4 s256).
//
// Usage: node --import tsx bench/profile_step.ts [--steps N] [--shape demo|bert-small|bert-base|llama-small] [--no-trainer]
//        (add --cpu-prof --cpu-prof-dir=/tmp/prof to node for a profile)
import "../src/node.js"; // the Node implementations (files, backends, MPI) behind the core
import { AutoTokenizer } from "../src/io/tokenizer.js";
import { AutoModelForSequenceClassification, AutoModelForCausalLM } from "../src/models/auto.js";
import { preprocessSeqCls } from "../src/data/tasks/seq_cls.js";
import { DataCollatorWithPadding } from "../src/data/collate.js";
import { LoraConfig, getPeftModel } from "../src/peft/index.js";
import { manualSeed } from "../src/tensor/random.js";
import { readRows } from "../src/cli/pipeline.js";
import { AdamW } from "../src/train/optim/adamw.js";
import { clipGradNorm } from "../src/train/clip.js";
import { getBackend } from "../src/backend/registry.js";
import { Tensor } from "../src/tensor/tensor.js";
import { TrainingArguments } from "../src/train/args.js";
import { Trainer } from "../src/train/trainer.js";
import { parseConfig } from "../src/io/hf_config.js";

const args = process.argv.slice(2);
const opt = (name: string, dflt: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : dflt;
};
const steps = Number(opt("steps", "5"));
const shape = opt("shape", "demo");
const be = getBackend();
console.log(`backend ${be.name}, threads ${be.numThreads()}, shape ${shape}`);
// --ts-kernels a,b: run these kernels on the TS reference (to bisect a native kernel)
if (args.includes("--ts-kernels")) {
  const { tsKernels } = await import("../src/backend/ts/index.js");
  for (const k of opt("ts-kernels", "").split(",").filter(Boolean)) (be as any)[k] = (tsKernels as any)[k];
}
if (args.includes("--ts-batched-matmul")) {
  const { tsKernels } = await import("../src/backend/ts/index.js");
  const nm = be.matmul;
  (be as any).matmul = (a: any, b: any, o: any, p: any) => (p.batch > 1 ? tsKernels.matmul(a, b, o, p) : nm(a, b, o, p));
}
// --kernels: time every backend kernel call (by kernel name and, for matmul, by shape)
const kstats = new Map<string, { n: number; ms: number }>();
if (args.includes("--kernels")) {
  for (const [k, fn] of Object.entries(be)) {
    if (typeof fn !== "function" || k === "supports" || k === "numThreads") continue;
    (be as any)[k] = (...a: any[]) => {
      const t0 = performance.now();
      const r = (fn as any)(...a);
      let key = k;
      if (k === "matmul" || k === "matmulBf16") { const p = a[3]; key = `${k} b${p.batch} ${p.m}x${p.n}x${p.k} tA${+p.transA} tB${+p.transB}`; }
      else if (k === "unary" || k === "unaryBackward") key = `${k} ${a[0]}`;
      else if (k === "binary") key = `${k} ${a[0]} [${a[4]}] a[${a[5]}] b[${a[6]}]`;
      const s = kstats.get(key) ?? { n: 0, ms: 0 };
      s.n++; s.ms += performance.now() - t0;
      kstats.set(key, s);
      return r;
    };
  }
}

const ms = (t0: number) => performance.now() - t0;
const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1];

type Fwd = () => Tensor;
async function build(): Promise<{ model: any; loss: Fwd; collate?: () => unknown; trainerRun?: () => Promise<void> }> {
  manualSeed(0);
  if (shape === "demo") {
    const dir = "models/llama-mini-en";
    const tok = await AutoTokenizer.fromPretrained(dir);
    const rows = await readRows("data/sst2/train_5k.tsv", {}, 5000);
    const ds = preprocessSeqCls(rows, tok, { maxLength: 64 });
    const model = await AutoModelForSequenceClassification.fromPretrained(dir, { numLabels: 2, log: () => {} });
    const peft = getPeftModel(model, new LoraConfig({ taskType: "SEQ_CLS", r: 8, loraAlpha: 16, targetModules: "all-linear" }), "default", { warn: () => {} });
    const collator = new DataCollatorWithPadding(tok);
    const feats = Array.from({ length: 32 }, (_, i) => ds.get(i) as any);
    const batch = collator.call(feats) as Record<string, unknown>;
    console.log(`batch: ${(batch.inputIds as number[][]).length} x ${(batch.inputIds as number[][])[0].length}`);
    const loss = () => (peft as any).forward({ inputIds: batch.inputIds, attentionMask: batch.attentionMask, labels: batch.labels }).loss as Tensor;
    const trainerRun = async () => {
      const a = TrainingArguments.fromDict({
        output_dir: "/tmp/profile_step_out", per_device_train_batch_size: 32, learning_rate: 3e-3, weight_decay: 0.01,
        warmup_ratio: 0.06, lr_scheduler_type: "linear", max_grad_norm: 1.0, max_steps: steps, save_strategy: "no",
        logging_steps: 1000, report_to: [], seed: 0, disable_tqdm: true,
      });
      const tr = new Trainer({ model: peft, args: a, trainDataset: ds, dataCollator: collator });
      await tr.train();
    };
    return { model: peft, loss, collate: () => collator.call(feats), trainerRun };
  }
  // synthetic benchmark shapes (random init, like torch_peft_bench.py)
  const cfgs: Record<string, any> = {
    "bert-small": { model_type: "bert", vocab_size: 30522, hidden_size: 512, num_hidden_layers: 4, num_attention_heads: 8, intermediate_size: 2048, max_position_embeddings: 512, type_vocab_size: 2, layer_norm_eps: 1e-12, hidden_act: "gelu", b: 8, s: 128, targets: ["query", "value"] },
    "bert-base": { model_type: "bert", vocab_size: 30522, hidden_size: 768, num_hidden_layers: 12, num_attention_heads: 12, intermediate_size: 3072, max_position_embeddings: 512, type_vocab_size: 2, layer_norm_eps: 1e-12, hidden_act: "gelu", b: 8, s: 128, targets: ["query", "value"] },
    "llama-small": { model_type: "llama", vocab_size: 32000, hidden_size: 512, num_hidden_layers: 8, num_attention_heads: 8, num_key_value_heads: 8, intermediate_size: 1376, rope_theta: 10000, rms_norm_eps: 1e-6, hidden_act: "silu", max_position_embeddings: 2048, b: 4, s: 256, targets: ["q_proj", "v_proj"] },
  };
  const c = cfgs[shape];
  if (!c) throw new Error(`unknown --shape ${shape}`);
  const { b, s, targets, ...cfg } = c;
  const isBert = cfg.model_type === "bert";
  const auto: any = isBert ? AutoModelForSequenceClassification : AutoModelForCausalLM;
  const model = auto.fromConfig(parseConfig({ ...cfg, num_labels: 2 }, shape));
  const peft = getPeftModel(model, new LoraConfig({ taskType: isBert ? "SEQ_CLS" : "CAUSAL_LM", r: 8, loraAlpha: 16, targetModules: targets }), "default", { warn: () => {} });
  const ids = Array.from({ length: b }, (_, i) => Array.from({ length: s }, (_, j) => (i * 7919 + j * 104729) % cfg.vocab_size));
  const mask = ids.map((r) => r.map(() => 1));
  const labels = isBert ? ids.map((_, i) => i % 2) : ids;
  const loss = () => (peft as any).forward({ inputIds: ids, attentionMask: mask, labels }).loss as Tensor;
  return { model: peft, loss };
}

const { model, loss, collate, trainerRun } = await build();
const params: Tensor[] = (model as any).parameters().filter((p: Tensor) => p.requiresGrad);
console.log(`trainable tensors ${params.length}, values ${params.reduce((s, p) => s + p.size, 0)}`);
const optim = new AdamW(params, { lr: 1e-4, weightDecay: 0.01 });
const F: number[] = [], B: number[] = [], O: number[] = [], T: number[] = [];
for (let i = 0; i < steps + 1; i++) {
  const t0 = performance.now();
  const l = loss();
  l.item();
  const t1 = performance.now();
  l.backward();
  const t2 = performance.now();
  clipGradNorm(params, 1.0);
  optim.step();
  for (const p of params) p.grad = null;
  const t3 = performance.now();
  if (i > 0) { F.push(t1 - t0); B.push(t2 - t1); O.push(t3 - t2); T.push(t3 - t0); }
}
console.log(`step ms (median of ${steps}): total ${med(T).toFixed(1)}  fwd ${med(F).toFixed(1)}  bwd ${med(B).toFixed(1)}  clip+opt ${med(O).toFixed(1)}`);
if (kstats.size) {
  const tot = [...kstats.values()].reduce((a, s) => a + s.ms, 0);
  console.log(`kernel time per step: ${(tot / (steps + 1)).toFixed(1)} ms`);
  for (const [k, s] of [...kstats].sort((a, b) => b[1].ms - a[1].ms).slice(0, 40)) {
    console.log(`${(s.ms / (steps + 1)).toFixed(2).padStart(8)} ms ${String(s.n / (steps + 1)).padStart(6)}x  ${k}`);
  }
}
if (collate) {
  const t0 = performance.now();
  for (let i = 0; i < 20; i++) collate();
  console.log(`collate ms: ${(ms(t0) / 20).toFixed(2)}`);
}
if (trainerRun && !args.includes("--no-trainer")) {
  const t0 = performance.now();
  await trainerRun();
  console.log(`Trainer ${steps} steps: ${ms(t0).toFixed(0)} ms (${(ms(t0) / steps).toFixed(1)} ms/step incl. setup)`);
}
