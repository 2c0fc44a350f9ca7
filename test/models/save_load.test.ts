import { test } from "node:test";
import assert from "node:assert/strict";
import { copyFileSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  AutoModel, AutoModelForCausalLM, AutoModelForMaskedLM, AutoModelForQuestionAnswering, AutoModelForSequenceClassification, AutoModelForTokenClassification,
} from "../../src/models/auto.js";
import { BertModel } from "../../src/models/bert.js";
import { BertForMaskedLM, BertForSequenceClassification } from "../../src/models/bert_heads.js";
import { PreTrainedModel } from "../../src/models/modeling_utils.js";
import { parseConfig } from "../../src/io/hf_config.js";
import { loadSafetensors, readSafetensorsHeader, saveSafetensors } from "../../src/io/safetensors.js";
import { Tensor } from "../../src/tensor/tensor.js";
import { ConfigError, FormatError } from "../../src/tensor/errors.js";
import { noGrad } from "../../src/tensor/autograd.js";
import { assertClose, captureLog, FIXTURES, GOLDEN, goldenJson, goldenTensors } from "./helpers.js";

const BERT = join(GOLDEN, "bert-tiny-random");
const tmp = () => mkdtempSync(join(tmpdir(), "models-"));

function assertSameTensors(a: PreTrainedModel, b: PreTrainedModel): void {
  const sa = a.stateDict(), sb = b.stateDict();
  assert.deepEqual([...sa.keys()].sort(), [...sb.keys()].sort());
  for (const [n, t] of sa) assert.deepEqual(sb.get(n)!.f32(), t.f32(), n);
}

/** A copy of bert-tiny-random whose weights are edited by `edit`. */
function editedBert(edit: (m: Map<string, Tensor>) => void): string {
  const dir = tmp();
  copyFileSync(join(BERT, "config.json"), join(dir, "config.json"));
  const t = loadSafetensors(join(BERT, "model.safetensors"));
  edit(t);
  saveSafetensors(join(dir, "model.safetensors"), t);
  return dir;
}

test("round trip: load → savePretrained → load gives identical tensors; HF spelling and metadata kept", async () => {
  for (const [auto, src, cls] of [
    [AutoModelForSequenceClassification, BERT, "BertForSequenceClassification"],
    [AutoModelForCausalLM, join(GOLDEN, "gpt2-tiny-random"), "GPT2LMHeadModel"],
    [AutoModelForCausalLM, join(GOLDEN, "llama-tiny-random"), "LlamaForCausalLM"],
  ] as const) {
    const m = await auto.fromPretrained(src);
    const dir = tmp();
    await m.savePretrained(dir);
    const again = await auto.fromPretrained(dir);
    assertSameTensors(m, again);
    const orig = JSON.parse(readFileSync(join(src, "config.json"), "utf8"));
    const saved = JSON.parse(readFileSync(join(dir, "config.json"), "utf8"));
    assert.deepEqual(saved.architectures, [cls]);
    for (const k of Object.keys(orig)) if (k !== "architectures") assert.deepEqual(saved[k], orig[k], `${cls} config.json field ${k}`);
    const h = readSafetensorsHeader(join(dir, "model.safetensors"));
    assert.deepEqual(h.metadata, { format: "pt" });
    // same tensor names as the HF file (tied lm_head not duplicated)
    assert.deepEqual([...h.tensors.keys()].sort(), [...readSafetensorsHeader(join(src, "model.safetensors")).tensors.keys()].sort(), cls);
  }
});

test("masked LM: decoder tied to the word embeddings, not saved twice", async () => {
  const m = (await AutoModelForMaskedLM.fromPretrained(join(FIXTURES, "bert-mini-en"), { log: () => {} })) as BertForMaskedLM;
  assert.equal(m.cls!.predictions.decoder.weight, m.getInputEmbeddings().weight);
  assert.equal(m.cls!.predictions.decoder.bias, m.cls!.predictions.bias);
  const dir = tmp();
  await m.savePretrained(dir);
  const keys = [...readSafetensorsHeader(join(dir, "model.safetensors")).tensors.keys()];
  assert.ok(!keys.some((k) => k.startsWith("cls.predictions.decoder")), keys.join(","));
  assert.ok(keys.includes("cls.predictions.bias"));
  assertSameTensors(m, await AutoModelForMaskedLM.fromPretrained(dir));
});

test("base model loads from a head checkpoint (prefix stripped) and a head model from a base checkpoint", async () => {
  const cap = captureLog();
  const base = await AutoModel.fromPretrained(BERT, { log: cap.log });
  assert.ok(base instanceof BertModel);
  assert.match(cap.lines.join("\n"), /not used when initializing BertModel: \[classifier\.bias, classifier\.weight\]/);
  const g = goldenJson("bert-tiny-random");
  const out = base.forward({ inputIds: g.inputs.input_ids, attentionMask: g.inputs.attention_mask, tokenTypeIds: g.inputs.token_type_ids });
  const outs = goldenTensors("bert-tiny-random", "golden_outputs.safetensors");
  assertClose(out.lastHiddenState!, outs.get("last_hidden_state")!, "last_hidden_state");
  assertClose(out.poolerOutput!, outs.get("pooler_output")!, "pooler_output");
  const dir = tmp();
  await base.savePretrained(dir);
  assert.ok([...readSafetensorsHeader(join(dir, "model.safetensors")).tensors.keys()].every((k) => !k.startsWith("bert.")));
  const cap2 = captureLog();
  const cls = await AutoModelForSequenceClassification.fromPretrained(dir, { log: cap2.log, numLabels: 3 });
  assert.ok(cls instanceof BertForSequenceClassification);
  assert.equal(cap2.lines.length, 1);
  assert.match(cap2.lines[0], /Some weights of BertForSequenceClassification were not initialized from the model checkpoint at .* and are newly initialized: \[classifier\.weight, classifier\.bias\]/);
  assertClose(cls.forward({ inputIds: g.inputs.input_ids, attentionMask: g.inputs.attention_mask, tokenTypeIds: g.inputs.token_type_ids }).poolerOutput!, outs.get("pooler_output")!, "pooler after reload");
});

test("a new classification head is initialised as HF: N(0, initializer_range), zero bias", async () => {
  const cap = captureLog();
  const m = (await AutoModelForSequenceClassification.fromPretrained(join(FIXTURES, "bert-mini-en"), { numLabels: 3, log: cap.log })) as BertForSequenceClassification;
  assert.match(cap.lines.join("\n"), /newly initialized: \[classifier\.weight, classifier\.bias\]/);
  assert.match(cap.lines.join("\n"), /not used when initializing BertForSequenceClassification: \[cls\.predictions\.bias, cls\.predictions\.transform/);
  const cw = m.stateDict().get("classifier.weight")!, cb = m.stateDict().get("classifier.bias")!;
  const w = cw.f32();
  assert.deepEqual(cw.shape, [3, 128]);
  const mean = w.reduce((a, b) => a + b, 0) / w.length;
  const std = Math.sqrt(w.reduce((a, b) => a + (b - mean) ** 2, 0) / w.length);
  assert.ok(Math.abs(std - 0.02) < 0.003, `std ${std}`);
  assert.ok(Math.abs(mean) < 0.003, `mean ${mean}`);
  assert.ok(cb.f32().every((x) => x === 0));
  assert.equal(m.config.numLabels, 3);
});

test("missing, unexpected and wrong-shape tensors are errors naming them", async () => {
  const missing = editedBert((t) => t.delete("bert.encoder.layer.1.attention.self.key.weight"));
  await assert.rejects(AutoModelForSequenceClassification.fromPretrained(missing), (e: Error) => e instanceof FormatError && /missing tensors: bert\.encoder\.layer\.1\.attention\.self\.key\.weight/.test(e.message));
  const shape = editedBert((t) => t.set("bert.pooler.dense.weight", Tensor.zeros([32, 31])));
  await assert.rejects(AutoModelForSequenceClassification.fromPretrained(shape), (e: Error) => e instanceof FormatError && /bert\.pooler\.dense\.weight: checkpoint \[32,31\] vs model \[32,32\]/.test(e.message));
  const extra = editedBert((t) => t.set("bert.encoder.layer.2.output.dense.weight", Tensor.zeros([2, 2])));
  await assert.rejects(AutoModelForSequenceClassification.fromPretrained(extra), (e: Error) => e instanceof FormatError && /unexpected tensors: bert\.encoder\.layer\.2\.output\.dense\.weight/.test(e.message));
  // a classifier of another size is a shape error, as in HF without ignore_mismatched_sizes
  await assert.rejects(AutoModelForSequenceClassification.fromPretrained(BERT, { numLabels: 5 }), (e: Error) => /classifier\.weight: checkpoint \[2,32\] vs model \[5,32\]/.test(e.message));
  // known buffers are ignored silently
  const buffers = editedBert((t) => t.set("bert.embeddings.position_ids", new Tensor(new Int32Array(64), [1, 64], "i32")));
  const cap = captureLog();
  await AutoModelForSequenceClassification.fromPretrained(buffers, { log: cap.log });
  assert.deepEqual(cap.lines, []);
});

test("unsupported model/task combinations list what exists", async () => {
  await assert.rejects(AutoModelForTokenClassification.fromPretrained(join(GOLDEN, "gpt2-tiny-random")), (e: Error) => e instanceof ConfigError && /AutoModelForTokenClassification does not support model_type 'gpt2' \(supported: bert, roberta/.test(e.message));
  await assert.rejects(AutoModelForCausalLM.fromPretrained(BERT), (e: Error) => e instanceof ConfigError && /supported: gpt2, llama, mistral, qwen2/.test(e.message));
  await assert.rejects(AutoModelForQuestionAnswering.fromPretrained(join(GOLDEN, "llama-tiny-random")), ConfigError);
});

test("frozenDtype bf16 stores the base Linear weights in bf16; the head stays f32 and trainable", async () => {
  const g = goldenJson("bert-tiny-random");
  const m = await AutoModelForSequenceClassification.fromPretrained(BERT, { frozenDtype: "bf16" });
  const q = m.stateDict().get("bert.encoder.layer.0.attention.self.query.weight")!;
  assert.equal(q.dtype, "bf16");
  assert.equal(q.requiresGrad, false);
  assert.equal(m.stateDict().get("classifier.weight")!.dtype, "f32");
  const out = m.forward({ inputIds: g.inputs.input_ids, attentionMask: g.inputs.attention_mask, tokenTypeIds: g.inputs.token_type_ids, labels: g.inputs.labels });
  assertClose(out.logits!, g.logits, "bf16 logits", { abs: 2e-2, rel: 2e-2 });
  out.loss!.backward();
  assert.ok(m.stateDict().get("classifier.weight")!.grad);
  assert.equal(q.grad, null);
});

test("fromConfig builds a randomly initialised model that runs", () => {
  const base = JSON.parse(readFileSync(join(GOLDEN, "llama-tiny-random", "config.json"), "utf8"));
  const m = AutoModelForCausalLM.fromConfig(parseConfig(base, "inline"));
  const logits = noGrad(() => m.forward({ inputIds: [[1, 2, 3]] }).logits!);
  assert.deepEqual(logits.shape, [1, 3, 256]);
  assert.ok(logits.f32().every(Number.isFinite));
});

test("old GPT-2 files: names without 'transformer.' and attn.bias/masked_bias buffers load", async () => {
  const src = join(GOLDEN, "gpt2-tiny-random");
  const t = new Map<string, Tensor>();
  for (const [k, v] of loadSafetensors(join(src, "model.safetensors"))) t.set(k.replace(/^transformer\./, ""), v);
  for (let l = 0; l < 2; l++) {
    t.set(`h.${l}.attn.bias`, Tensor.ones([1, 1, 64, 64]));
    t.set(`h.${l}.attn.masked_bias`, Tensor.scalar(-1e4));
  }
  const dir = tmp();
  copyFileSync(join(src, "config.json"), join(dir, "config.json"));
  saveSafetensors(join(dir, "model.safetensors"), t);
  const cap = captureLog();
  const old = await AutoModelForCausalLM.fromPretrained(dir, { log: cap.log });
  assert.deepEqual(cap.lines, []);
  assertSameTensors(old, await AutoModelForCausalLM.fromPretrained(src));
});
