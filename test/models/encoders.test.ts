// RoBERTa and DistilBERT: HF parameter names, and equivalence with the golden-checked BERT when
// the same weights are laid out under their names (RoBERTa: positions counted from pad+1;
// DistilBERT: no token types, so token_type_embeddings[0] is folded into the position table).
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AutoModel, AutoModelForMaskedLM, AutoModelForQuestionAnswering, AutoModelForSequenceClassification, AutoModelForTokenClassification } from "../../src/models/auto.js";
import { BertModel } from "../../src/models/bert.js";
import { BertForMaskedLM } from "../../src/models/bert_heads.js";
import { DistilBertModel } from "../../src/models/distilbert.js";
import { loadSafetensors, saveSafetensors } from "../../src/io/safetensors.js";
import { Tensor } from "../../src/tensor/tensor.js";
import { noGrad } from "../../src/tensor/autograd.js";
import { assertClose, captureLog, GOLDEN, goldenJson } from "./helpers.js";

const BERT = join(GOLDEN, "bert-tiny-random");
const g = goldenJson("bert-tiny-random");
const bertConfig = JSON.parse(readFileSync(join(BERT, "config.json"), "utf8"));
const bertWeights = loadSafetensors(join(BERT, "model.safetensors"));

function writeModel(config: object, tensors: Map<string, Tensor>): string {
  const dir = mkdtempSync(join(tmpdir(), "enc-"));
  writeFileSync(join(dir, "config.json"), JSON.stringify(config));
  saveSafetensors(join(dir, "model.safetensors"), tensors);
  return dir;
}

async function bertHidden(inputs: object): Promise<Tensor> {
  const m = (await AutoModel.fromPretrained(BERT, { log: () => {} })) as BertModel;
  return noGrad(() => m.forward(inputs).lastHiddenState!);
}

test("RoBERTa: HF names, position ids from padding_idx+1, same encoder as BERT", async () => {
  const t = new Map<string, Tensor>();
  for (const [k, v] of bertWeights) {
    if (!k.startsWith("bert.")) continue;
    t.set(k.replace(/^bert\./, "roberta."), v);
  }
  // RoBERTa position p (p ≥ pad+1 = 1) plays the role of BERT position p − 1
  const pos = bertWeights.get("bert.embeddings.position_embeddings.weight")!;
  const shifted = new Float32Array(pos.size);
  shifted.set(pos.f32().subarray(0, pos.size - 32), 32);
  t.set("roberta.embeddings.position_embeddings.weight", new Tensor(shifted, pos.shape));
  const dir = writeModel({ ...bertConfig, model_type: "roberta", architectures: ["RobertaModel"] }, t);
  const m = await AutoModel.fromPretrained(dir);
  assert.deepEqual([...m.stateDict().keys()].filter((k) => !k.includes("layer.")).sort(), [
    "embeddings.LayerNorm.bias", "embeddings.LayerNorm.weight", "embeddings.position_embeddings.weight", "embeddings.token_type_embeddings.weight",
    "embeddings.word_embeddings.weight", "pooler.dense.bias", "pooler.dense.weight",
  ]);
  assert.equal(m.architectureName, "RobertaModel");
  const { input_ids, attention_mask, token_type_ids } = g.inputs;
  const ours = noGrad(() => m.forward({ inputIds: input_ids, attentionMask: attention_mask, tokenTypeIds: token_type_ids }).lastHiddenState!);
  const ref = await bertHidden({ inputIds: input_ids, attentionMask: attention_mask, tokenTypeIds: token_type_ids });
  // compare the non-pad positions (pad tokens sit at position padding_idx in RoBERTa)
  for (let b = 0; b < 3; b++) for (let i = 0; i < 8; i++) {
    if (input_ids[b][i] === 0) continue;
    assertClose(ours.select(0, b).select(0, i), ref.select(0, b).select(0, i), `row ${b} pos ${i}`);
  }
  const cap = captureLog();
  const cls = await AutoModelForSequenceClassification.fromPretrained(dir, { log: cap.log, numLabels: 3 });
  assert.match(cap.lines.join("\n"), /newly initialized: \[classifier\.dense\.weight, classifier\.dense\.bias, classifier\.out_proj\.weight, classifier\.out_proj\.bias\]/);
  assert.match(cap.lines.join("\n"), /not used when initializing RobertaForSequenceClassification: \[roberta\.pooler/);
  assert.equal(cls.architectureName, "RobertaForSequenceClassification");
  assert.deepEqual(noGrad(() => cls.forward({ inputIds: input_ids, attentionMask: attention_mask }).logits!).shape, [3, 3]);
  const mlm = (await AutoModelForMaskedLM.fromPretrained(dir, { log: () => {} })) as BertForMaskedLM;
  assert.deepEqual([...mlm.stateDict().keys()].filter((k) => k.startsWith("lm_head")).sort(), [
    "lm_head.bias", "lm_head.decoder.bias", "lm_head.decoder.weight", "lm_head.dense.bias", "lm_head.dense.weight", "lm_head.layer_norm.bias", "lm_head.layer_norm.weight",
  ]);
  assert.equal(mlm.lm_head!.decoder.weight, mlm.getInputEmbeddings().weight);
});

test("DistilBERT: HF names and the same encoder computation as BERT", async () => {
  const t = new Map<string, Tensor>();
  const ren: [RegExp, string][] = [
    [/^bert\.encoder\.layer\.(\d+)\.attention\.self\.query\./, "distilbert.transformer.layer.$1.attention.q_lin."],
    [/^bert\.encoder\.layer\.(\d+)\.attention\.self\.key\./, "distilbert.transformer.layer.$1.attention.k_lin."],
    [/^bert\.encoder\.layer\.(\d+)\.attention\.self\.value\./, "distilbert.transformer.layer.$1.attention.v_lin."],
    [/^bert\.encoder\.layer\.(\d+)\.attention\.output\.dense\./, "distilbert.transformer.layer.$1.attention.out_lin."],
    [/^bert\.encoder\.layer\.(\d+)\.attention\.output\.LayerNorm\./, "distilbert.transformer.layer.$1.sa_layer_norm."],
    [/^bert\.encoder\.layer\.(\d+)\.intermediate\.dense\./, "distilbert.transformer.layer.$1.ffn.lin1."],
    [/^bert\.encoder\.layer\.(\d+)\.output\.dense\./, "distilbert.transformer.layer.$1.ffn.lin2."],
    [/^bert\.encoder\.layer\.(\d+)\.output\.LayerNorm\./, "distilbert.transformer.layer.$1.output_layer_norm."],
    [/^bert\.embeddings\./, "distilbert.embeddings."],
  ];
  for (const [k, v] of bertWeights) {
    const r = ren.find(([re]) => re.test(k));
    if (r) t.set(k.replace(r[0], r[1]), v);
  }
  t.delete("distilbert.embeddings.token_type_embeddings.weight");
  const pos = bertWeights.get("bert.embeddings.position_embeddings.weight")!.f32();
  const tt0 = bertWeights.get("bert.embeddings.token_type_embeddings.weight")!.f32().subarray(0, 32);
  t.set("distilbert.embeddings.position_embeddings.weight", new Tensor(pos.map((x, i) => x + tt0[i % 32]), [64, 32]));
  const config = {
    model_type: "distilbert", vocab_size: 170, dim: 32, n_layers: 2, n_heads: 2, hidden_dim: 37, max_position_embeddings: 64,
    activation: "gelu", pad_token_id: 0, initializer_range: 0.1, architectures: ["DistilBertModel"],
  };
  const dir = writeModel(config, t);
  const m = await AutoModel.fromPretrained(dir);
  assert.ok(m instanceof DistilBertModel);
  const { input_ids, attention_mask } = g.inputs;
  const ours = noGrad(() => m.forward({ inputIds: input_ids, attentionMask: attention_mask, outputHiddenStates: true }));
  assertClose(ours.lastHiddenState!, await bertHidden({ inputIds: input_ids, attentionMask: attention_mask }), "last hidden state");
  assert.equal(ours.hiddenStates!.length, 3);
  const cap = captureLog();
  const cls = await AutoModelForSequenceClassification.fromPretrained(dir, { log: cap.log });
  assert.match(cap.lines[0], /newly initialized: \[pre_classifier\.weight, pre_classifier\.bias, classifier\.weight, classifier\.bias\]/);
  const out = cls.forward({ inputIds: input_ids, attentionMask: attention_mask, labels: g.inputs.labels });
  out.loss!.backward();
  assert.ok(cls.stateDict().get("distilbert.transformer.layer.0.attention.q_lin.weight")!.grad);
  const mlm = await AutoModelForMaskedLM.fromPretrained(dir, { log: () => {} });
  assert.ok(["vocab_transform.weight", "vocab_layer_norm.weight", "vocab_projector.bias"].every((k) => mlm.stateDict().has(k)));
  const save = mkdtempSync(join(tmpdir(), "enc-"));
  await mlm.savePretrained(save);
  const saved = loadSafetensors(join(save, "model.safetensors"));
  assert.ok(!saved.has("vocab_projector.weight"), "tied projector not saved");
  assert.ok(saved.has("vocab_projector.bias"));
  assert.equal(JSON.parse(readFileSync(join(save, "config.json"), "utf8")).dim, 32, "DistilBERT spelling kept");
  assert.ok(await AutoModelForQuestionAnswering.fromPretrained(dir, { log: () => {} }));
  assert.ok(await AutoModelForTokenClassification.fromPretrained(dir, { log: () => {} }));
});
