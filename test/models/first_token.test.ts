// Sequence classification runs the last layer only where the head reads: position 0 on encoders
// (ModelInputs.firstTokenOnly), each row's last non-pad token on decoders (ModelInputs.queryPositions).
// Logits, loss and every parameter's gradient must equal the full computation (forced with
// outputHiddenStates), and the last layer's feed-forward must really see one position per row.
import { test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { Tensor } from "../../src/tensor/tensor.js";
import { parseConfig } from "../../src/io/hf_config.js";
import { AutoModelForSequenceClassification } from "../../src/models/auto.js";
import type { PreTrainedModel } from "../../src/models/modeling_utils.js";
import { Linear } from "../../src/nn/layers.js";
import { getPeftModel, LoraConfig, PrefixTuningConfig } from "../../src/peft/index.js";
import { assertClose, GOLDEN, goldenJson } from "./helpers.js";

const g = goldenJson("bert-tiny-random");
const { input_ids, attention_mask, token_type_ids, labels } = g.inputs;
const quiet = { log: () => {} };

/** Watches a Linear's input sequence lengths. */
function watchSeqLen(lin: Linear): number[] {
  const seen: number[] = [];
  const orig = lin.forward.bind(lin);
  lin.forward = (x: Tensor) => {
    seen.push(x.shape[1]);
    return orig(x);
  };
  return seen;
}

function run(model: PreTrainedModel, inputs: object, full: boolean, y: number[]): { logits: Tensor; loss: Tensor; grads: Map<string, Tensor>; out: any } {
  model.zeroGrad();
  const out = model.forward({ ...inputs, labels: y, outputHiddenStates: full } as any);
  out.loss!.backward();
  const grads = new Map<string, Tensor>();
  for (const [n, p] of model.namedParameters()) if (p.grad) grads.set(n, new Tensor(p.grad.f32().slice(), p.grad.shape));
  return { logits: out.logits!, loss: out.loss!, grads, out };
}

function assertSameRun(model: PreTrainedModel, inputs: object, what: string, y: number[] = labels): void {
  const fast = run(model, inputs, false, y);
  const full = run(model, inputs, true, y);
  assertClose(fast.logits, full.logits, `${what}: logits`);
  assertClose(fast.loss, full.loss, `${what}: loss`);
  assert.deepEqual([...fast.grads.keys()].sort(), [...full.grads.keys()].sort(), `${what}: parameters with gradients`);
  assert.ok(fast.grads.size > 0, `${what}: some gradients`);
  for (const [n, gr] of full.grads) assertClose(fast.grads.get(n)!, gr, `${what}: grad ${n}`, { abs: 1e-5, rel: 1e-3 });
  assert.equal(fast.out.lastHiddenState, undefined, `${what}: a first-token run passes no lastHiddenState on`);
  if (full.out.lastHiddenState) assert.equal(full.out.lastHiddenState.shape[1], input_ids[0].length, `${what}: full run's lastHiddenState`);
}

test("BERT sequence classification: the last layer runs position 0 only, with the same logits, loss and gradients", async () => {
  const model = await AutoModelForSequenceClassification.fromPretrained(join(GOLDEN, "bert-tiny-random"));
  model.eval();
  const layers = (model as any).bert.encoder.layer;
  const last = layers.get(layers.length - 1);
  const ffnIn = watchSeqLen(last.intermediate.dense), qIn = watchSeqLen(last.attention.self.query), kIn = watchSeqLen(last.attention.self.key);
  const inputs = { inputIds: input_ids, attentionMask: attention_mask, tokenTypeIds: token_type_ids };
  assertSameRun(model, inputs, "bert");
  const T = input_ids[0].length;
  assert.deepEqual(ffnIn, [1, T], "feed-forward input length: first-token run, then full run");
  assert.deepEqual(qIn, [1, T], "query input length");
  assert.deepEqual(kIn, [T, T], "keys always come from every position");
  // the golden logits hold for the default (first-token) path too
  assertClose(model.forward(inputs).logits!, g.logits, "golden logits");
});

test("RoBERTa and DistilBERT sequence classification: first-token last layer equals the full computation", async () => {
  const base = { vocab_size: 99, hidden_size: 32, num_hidden_layers: 2, num_attention_heads: 4, intermediate_size: 48, max_position_embeddings: 64, num_labels: 3 };
  const roberta = AutoModelForSequenceClassification.fromConfig(parseConfig({ ...base, model_type: "roberta", pad_token_id: 1 }, "test:roberta"));
  const distil = AutoModelForSequenceClassification.fromConfig(parseConfig({
    model_type: "distilbert", vocab_size: 99, dim: 32, n_layers: 2, n_heads: 4, hidden_dim: 48, max_position_embeddings: 64, num_labels: 3,
  }, "test:distilbert"));
  const ids = input_ids.map((r: number[]) => r.map((t: number) => (t % 97) + 2));
  for (const [name, m] of [["roberta", roberta], ["distilbert", distil]] as const) {
    m.eval();
    assertSameRun(m, { inputIds: ids, attentionMask: attention_mask }, name);
  }
});

test("first-token last layer under LoRA and prefix tuning (past keys/values) gives the full computation's gradients", async () => {
  const inputs = { inputIds: input_ids, attentionMask: attention_mask, tokenTypeIds: token_type_ids };
  const lora = getPeftModel(await AutoModelForSequenceClassification.fromPretrained(join(GOLDEN, "bert-tiny-random"), quiet),
    new LoraConfig({ taskType: "SEQ_CLS", r: 4, loraAlpha: 8, targetModules: ["query", "value", "dense"], initLoraWeights: "gaussian" }));
  lora.eval();
  assertSameRun(lora as unknown as PreTrainedModel, inputs, "lora");
  const prefix = getPeftModel(await AutoModelForSequenceClassification.fromPretrained(join(GOLDEN, "bert-tiny-random"), quiet),
    new PrefixTuningConfig({ taskType: "SEQ_CLS", numVirtualTokens: 3 }));
  prefix.eval();
  assertSameRun(prefix as unknown as PreTrainedModel, inputs, "prefix");
});

test("decoder sequence classification (Llama, GPT-2): the last layer runs each row's last non-pad token only, same logits, loss and gradients", async () => {
  for (const name of ["llama-tiny-random", "gpt2-tiny-random"]) {
    const gd = goldenJson(name);
    const model = await AutoModelForSequenceClassification.fromPretrained(join(GOLDEN, name), { ...quiet, numLabels: 3 });
    model.config.padTokenId = 0;
    model.eval();
    const layers = (model as any).model?.layers ?? (model as any).transformer.h;
    const last = layers.get(layers.length - 1);
    const mlpIn = watchSeqLen(last.mlp.gate_proj ?? last.mlp.c_fc);
    const T = gd.inputs.input_ids[0].length;
    const right = { inputIds: gd.inputs.input_ids, attentionMask: gd.inputs.attention_mask };
    assertSameRun(model, right, `${name} right-padded`, [2, 1, 0]);
    assert.deepEqual(mlpIn, [1, T], `${name}: last feed-forward input length, rows run then full run`);
    // left padding, and a row whose last real token is not under the mask's last 1 (no mask given)
    const left = { inputIds: [[0, 0, 5, 6, 7, 8, 9, 10], [11, 12, 13, 14, 15, 16, 17, 18], [0, 19, 20, 21, 22, 23, 24, 25]], attentionMask: [[0, 0, 1, 1, 1, 1, 1, 1], [1, 1, 1, 1, 1, 1, 1, 1], [0, 1, 1, 1, 1, 1, 1, 1]] };
    assertSameRun(model, left, `${name} left-padded`, [2, 1, 0]);
    assertSameRun(model, { inputIds: [[3, 4, 5, 0, 0, 0, 0, 0], [6, 7, 8, 9, 10, 11, 12, 13]] }, `${name} no mask`, [1, 2]);
  }
});

test("decoder rows under LoRA and prefix tuning (past keys/values) give the full computation's gradients", async () => {
  const gd = goldenJson("llama-tiny-random");
  const inputs = { inputIds: gd.inputs.input_ids, attentionMask: gd.inputs.attention_mask };
  const load = async () => {
    const m = await AutoModelForSequenceClassification.fromPretrained(join(GOLDEN, "llama-tiny-random"), { ...quiet, numLabels: 3 });
    m.config.padTokenId = 0;
    return m;
  };
  const lora = getPeftModel(await load(), new LoraConfig({ taskType: "SEQ_CLS", r: 4, loraAlpha: 8, targetModules: "all-linear", initLoraWeights: "gaussian" }));
  lora.eval();
  assertSameRun(lora as unknown as PreTrainedModel, inputs, "llama lora", [2, 1, 0]);
  const prefix = getPeftModel(await load(), new PrefixTuningConfig({ taskType: "SEQ_CLS", numVirtualTokens: 3 }));
  prefix.eval();
  assertSameRun(prefix as unknown as PreTrainedModel, inputs, "llama prefix", [2, 1, 0]);
  // a bad queryPositions is a clear error
  const m = await load();
  assert.throws(() => (m as any).model.forward({ ...inputs, queryPositions: [0, 9, 1] }), /queryPositions \[0,9,1\]: expected 3 integer positions in \[0, 8\)/);
});

test("first-position last layers under gradient checkpointing: same gradients as without", async () => {
  const { enableGradientCheckpointing } = await import("../../src/train/grad_checkpoint.js");
  for (const name of ["bert-tiny-random", "llama-tiny-random"]) {
    const gd = goldenJson(name);
    const inputs = { inputIds: gd.inputs.input_ids, attentionMask: gd.inputs.attention_mask };
    const m = await AutoModelForSequenceClassification.fromPretrained(join(GOLDEN, name), { ...quiet, numLabels: name.startsWith("bert") ? 2 : 3 });
    m.config.padTokenId = 0;
    // train mode (checkpointing only wraps then) with dropout off, so both runs are deterministic
    m.train();
    for (const [, mod] of m.namedModules()) if ("p" in mod) (mod as unknown as { p: number }).p = 0;
    const plain = run(m, inputs, false, [1, 1, 0]).grads;
    assert.ok(enableGradientCheckpointing(m) > 0);
    const ck = run(m, inputs, false, [1, 1, 0]).grads;
    assert.deepEqual([...ck.keys()].sort(), [...plain.keys()].sort(), `${name}: parameters with gradients`);
    for (const [n, g] of plain) assertClose(ck.get(n)!, g, `${name} checkpointed: grad ${n}`, { abs: 1e-6, rel: 1e-4 });
  }
});
