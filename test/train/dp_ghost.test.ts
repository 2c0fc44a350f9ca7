// Ghost clipping (src/train/dp/ghost.ts, dp_clipping "ghost"): the per-sample norms from the
// captured layer inputs and output gradients equal the norms of the exact per-sample gradients of
// the per-example pass (per_sample.ts) on BERT and Llama with LoRA and with full fine-tuning of
// their Linear/Embedding weights; the Trainer's update with ghost clipping equals flat clipping
// with explicit per-sample gradients (σ = 0, same seed); unsupported parameters are named.
import { test } from "node:test";
import assert from "node:assert/strict";
import { manualSeed, Rng } from "../../src/tensor/random.js";
import { Dropout, Embedding, Linear } from "../../src/nn/layers.js";
import { Conv1D } from "../../src/nn/conv1d.js";
import type { Module } from "../../src/nn/module.js";
import type { Tensor } from "../../src/tensor/tensor.js";
import { getPeftModel } from "../../src/peft/peft_model.js";
import { LoraConfig } from "../../src/peft/lora/index.js";
import { perSampleGradients, sampleNormsSquared } from "../../src/train/dp/per_sample.js";
import { GhostClipper } from "../../src/train/dp/ghost.js";
import { exampleLossSum } from "../../src/train/dp/example_losses.js";
import { withGradCapture } from "../../src/ops/grad_capture.js";
import { Trainer, TrainingArguments } from "../../src/train/index.js";
import { bertBatch, gjson, loadBert, loadCausal, tmp } from "../peft/helpers.js";
import { paramsOf, maxDiff } from "./helpers.js";

type Batch = Record<string, any>;
const rowOf = (b: Batch, i: number): Batch => Object.fromEntries(Object.entries(b).map(([k, v]) => [k, [v[i]]]));
const bert = () => bertBatch(gjson("bert-tiny-random/golden.json"));
const llama = () => { const g = gjson("llama-tiny-random/lora/golden.json").inputs; return { inputIds: g.input_ids, attentionMask: g.attention_mask, labels: g.labels }; };

function noDropout(m: Module): void {
  for (const [, mod] of m.namedModules()) if (mod instanceof Dropout) (mod as { p: number }).p = 0;
}

/** Trainable: only the weights/biases of Linear and Embedding modules (full fine-tuning of those). */
function linearAndEmbedding(m: Module): void {
  for (const p of m.parameters()) p.requiresGrad = false;
  for (const [, mod] of m.namedModules()) if (mod instanceof Linear || mod instanceof Embedding) for (const p of mod.parameters()) p.requiresGrad = true;
}

function ghostNorms(model: Module, named: [string, Tensor][], batch: Batch): number[][] {
  const g = new GhostClipper(named);
  g.begin(batch.inputIds.length);
  const { sum } = exampleLossSum(model, batch, 0);
  withGradCapture(g, () => sum.backward());
  const n2 = g.norms2;
  g.addClipped(named.map(([, p]) => new Float32Array(p.size)), 1); // refuses an uncaptured gradient
  return n2;
}

function check(what: string, model: Module, batch: Batch, minParams: number): void {
  model.eval();
  const named = model.namedParameters().filter(([, p]) => p.requiresGrad);
  assert.ok(named.length >= minParams, `${what}: ${named.length} trainable`);
  const B = batch.inputIds.length;
  const ghost = ghostNorms(model, named, batch);
  const explicit = sampleNormsSquared(perSampleGradients(named, B, (i) => (model as any).forward(rowOf(batch, i)).loss as Tensor));
  for (let i = 0; i < B; i++) {
    const tg = ghost[i].reduce((a, b) => a + b, 0), te = explicit[i].reduce((a, b) => a + b, 0);
    assert.ok(te > 0, `${what}: example ${i} has a zero gradient`);
    assert.ok(Math.abs(Math.sqrt(tg) - Math.sqrt(te)) <= 1e-6 * Math.sqrt(te), `${what}: example ${i}: ghost norm ${Math.sqrt(tg)} vs explicit ${Math.sqrt(te)}`);
    named.forEach(([name], k) => {
      const d = Math.abs(Math.sqrt(ghost[i][k]) - Math.sqrt(explicit[i][k]));
      assert.ok(d <= 1e-6 * Math.sqrt(te), `${what}: example ${i} '${name}': ghost ${Math.sqrt(ghost[i][k])} vs explicit ${Math.sqrt(explicit[i][k])}`);
    });
  }
}

test("ghost norms = explicit per-sample norms: BERT with LoRA (and its classifier), BERT full fine-tuning of Linear and Embedding weights", async () => {
  manualSeed(1);
  const lora = getPeftModel(await loadBert(), new LoraConfig({ taskType: "SEQ_CLS", targetModules: ["query", "value", "dense"], r: 2, initLoraWeights: false }));
  check("bert lora", lora, bert(), 6);
  const full = await loadBert();
  linearAndEmbedding(full);
  check("bert full Linear/Embedding", full, bert(), 10);
});

test("ghost norms = explicit per-sample norms: Llama with LoRA, Llama full fine-tuning of Linear and Embedding weights", async () => {
  manualSeed(2);
  const lora = getPeftModel(await loadCausal("llama-tiny-random"), new LoraConfig({ taskType: "CAUSAL_LM", targetModules: ["q_proj", "v_proj", "down_proj"], r: 2, initLoraWeights: false }));
  check("llama lora", lora, llama(), 6);
  const full = await loadCausal("llama-tiny-random");
  linearAndEmbedding(full);
  check("llama full Linear/Embedding", full, llama(), 10);
});

test("ghost norms = explicit per-sample norms: GPT-2 with LoRA on its Conv1D c_attn, and full fine-tuning of every Conv1D ([in, out] weights)", async () => {
  manualSeed(3);
  const g = gjson("gpt2-tiny-random/golden.json").inputs;
  const batch = { inputIds: g.input_ids, attentionMask: g.attention_mask, labels: g.labels };
  const lora = getPeftModel(await loadCausal("gpt2-tiny-random"), new LoraConfig({ taskType: "CAUSAL_LM", targetModules: ["c_attn"], r: 2, initLoraWeights: false }));
  check("gpt2 lora", lora, batch, 4);
  const full = await loadCausal("gpt2-tiny-random");
  for (const p of full.parameters()) p.requiresGrad = false;
  for (const [, mod] of full.namedModules()) if (mod instanceof Conv1D) for (const p of mod.parameters()) p.requiresGrad = true;
  check("gpt2 full Conv1D", full, batch, 8);
  // the tied embedding / lm_head weight is used by two ops: refused by name
  const tied = await loadCausal("gpt2-tiny-random");
  for (const p of tied.parameters()) p.requiresGrad = false;
  const wte = tied.namedParameters().find(([n]) => n.endsWith("wte.weight"))!;
  wte[1].requiresGrad = true;
  tied.eval();
  assert.throws(() => ghostNorms(tied, [wte], batch), (e: Error) => /'.*wte\.weight' is used by more than one op/.test(e.message));
});

test("ghost clipping names a trainable parameter it cannot clip (LayerNorm) and a weight used twice", async () => {
  const full = await loadBert();
  for (const p of full.parameters()) p.requiresGrad = true;
  full.eval();
  const named = full.namedParameters().filter(([, p]) => p.requiresGrad);
  assert.throws(() => ghostNorms(full, named, bert()), (e: Error) => /dp_clipping "ghost" cannot clip trainable parameter '.*LayerNorm\.(weight|bias)'.*use dp_clipping "flat"/.test(e.message));
  const lin = new Linear(3, 2);
  const g = new GhostClipper([["w", lin.weight]]);
  g.begin(1);
  const x = new Float32Array(3).fill(1), gy = new Float32Array(2).fill(1);
  assert.equal(g.linearWeight(lin.weight, x, gy, 1, 3, 2, false), true);
  assert.throws(() => g.linearWeight(lin.weight, x, gy, 1, 3, 2, false), /'w' is used by more than one op/);
  assert.equal(g.linearBias(lin.bias!, gy, 1, 2), false, "a parameter outside the clipper is left to the op");
});

// a tiny tokenized classification set with varied lengths (the collator pads)
function clsData(n: number): Record<string, unknown>[] {
  const rng = new Rng(11);
  return Array.from({ length: n }, () => {
    const len = 3 + Math.floor(rng.random() * 6);
    const ids = Array.from({ length: len }, (_, t) => (t === 0 ? 2 : 5 + Math.floor(rng.random() * 90)));
    return { inputIds: ids, attentionMask: ids.map(() => 1), labels: Math.floor(rng.random() * 2) };
  });
}

async function trainOnce(clipping: string, causal: boolean, extra: Record<string, unknown> = {}): Promise<Map<string, Float32Array>> {
  manualSeed(5);
  const base = causal ? await loadCausal("llama-tiny-random") : await loadBert();
  noDropout(base);
  const model = getPeftModel(base, new LoraConfig({ taskType: causal ? "CAUSAL_LM" : "SEQ_CLS", targetModules: causal ? ["q_proj", "v_proj"] : ["query", "value"], r: 2, initLoraWeights: false }));
  const data = clsData(24).map((e) => (causal ? { inputIds: e.inputIds, attentionMask: e.attentionMask, labels: e.inputIds } : e));
  const args = TrainingArguments.fromDict({
    output_dir: tmp("dp-ghost-"), disable_tqdm: true, save_strategy: "no", report_to: ["none"], learning_rate: 5, warmup_steps: 0, lr_scheduler_type: "constant",
    optim: "sgd", per_device_train_batch_size: 4, gradient_accumulation_steps: 2, max_steps: 3, logging_steps: 1, seed: 3,
    dp: true, dp_noise_multiplier: 0, dp_max_grad_norm: 0.05, dp_clipping: clipping, ...extra,
  });
  await new Trainer({ model, args, trainDataset: data }).train();
  return paramsOf(model);
}

test("Trainer, σ = 0, same seed: the update with ghost clipping equals flat clipping with explicit per-sample gradients (BERT and Llama LoRA)", async () => {
  for (const causal of [false, true]) {
    const before = await (async () => { manualSeed(5); const b = causal ? await loadCausal("llama-tiny-random") : await loadBert(); return paramsOf(getPeftModel(b, new LoraConfig({ taskType: causal ? "CAUSAL_LM" : "SEQ_CLS", targetModules: causal ? ["q_proj", "v_proj"] : ["query", "value"], r: 2, initLoraWeights: false }))); })();
    const flat = await trainOnce("flat", causal), ghost = await trainOnce("ghost", causal);
    const moved = maxDiff(flat, before);
    assert.ok(moved > 1e-2, `${causal ? "llama" : "bert"}: the run moved the weights (${moved})`);
    const d = maxDiff(ghost, flat);
    assert.ok(d < 1e-6, `${causal ? "llama" : "bert"}: ghost vs flat max diff ${d} (moved ${moved})`);
  }
  // label smoothing (HF's LabelSmoother) is per example too: ghost's per-example losses use it alike
  const ls = { label_smoothing_factor: 0.1 };
  const d = maxDiff(await trainOnce("ghost", false, ls), await trainOnce("flat", false, ls));
  assert.ok(d < 1e-6, `bert, label smoothing 0.1: ghost vs flat max diff ${d}`);
});
