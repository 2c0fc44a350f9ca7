import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AutoConfig, applyLabelOptions, configToJSON, loadConfigFile, parseConfig, SUPPORTED_MODEL_TYPES } from "../../src/io/hf_config.js";
import type { BertConfig, GPT2Config, LlamaConfig } from "../../src/io/hf_config.js";
import { ConfigError, FormatError } from "../../src/tensor/errors.js";

const GOLDEN = join(import.meta.dirname, "..", "..", "..", "shared", "golden");
const FIXTURES = join(import.meta.dirname, "..", "..", "..", "shared", "fixtures", "models");

test("reads the golden configs with HF field meanings", async () => {
  const bert = (await AutoConfig.fromPretrained(join(GOLDEN, "bert-tiny-random"))) as BertConfig;
  assert.equal(bert.modelType, "bert");
  assert.equal(bert.hiddenSize, 32);
  assert.equal(bert.intermediateSize, 37);
  assert.equal(bert.layerNormEps, 1e-12);
  assert.equal(bert.padTokenId, 0);
  assert.equal(bert.numLabels, 2);
  assert.deepEqual(bert.id2label, { 0: "LABEL_0", 1: "LABEL_1" });
  assert.equal(bert.dtype, "float32");
  const gpt2 = loadConfigFile(join(GOLDEN, "gpt2-tiny-random")) as GPT2Config;
  assert.equal(gpt2.hiddenSize, 32, "n_embd");
  assert.equal(gpt2.numHiddenLayers, 2, "n_layer");
  assert.equal(gpt2.numAttentionHeads, 2, "n_head");
  assert.equal(gpt2.hiddenAct, "gelu_new");
  assert.equal(gpt2.padTokenId, null, "explicit null stays null");
  assert.equal(gpt2.eosTokenId, 0);
  assert.equal(gpt2.nInner, null);
  const llama = loadConfigFile(join(GOLDEN, "llama-tiny-random", "config.json")) as LlamaConfig;
  assert.equal(llama.ropeTheta, 10000, "from rope_parameters (transformers 5)");
  assert.deepEqual(llama.ropeScaling, { ropeType: "default", factor: 1 });
  assert.equal(llama.numKeyValueHeads, 2);
  assert.equal(llama.headDim, 8);
  assert.equal(llama.tieWordEmbeddings, false);
  assert.equal(llama.rmsNormEps, 1e-6);
  const mini = loadConfigFile(join(FIXTURES, "llama-mini-en")) as LlamaConfig;
  assert.equal(mini.tieWordEmbeddings, true);
  assert.equal(mini.eosTokenId, 3);
});

test("transformers 4.x spellings: top-level rope_theta, rope_scaling, torch_dtype", () => {
  const c = parseConfig({ model_type: "llama", hidden_size: 64, num_attention_heads: 4, rope_theta: 500000, rope_scaling: { type: "linear", factor: 2 }, torch_dtype: "bfloat16" }) as LlamaConfig;
  assert.equal(c.ropeTheta, 500000);
  assert.deepEqual(c.ropeScaling, { ropeType: "linear", factor: 2 });
  assert.equal(c.dtype, "bfloat16");
  assert.equal(c.headDim, 16);
  assert.equal(c.numKeyValueHeads, 4, "defaults to num_attention_heads");
  const v5 = parseConfig({ model_type: "llama", rope_parameters: { rope_theta: 1e6, rope_type: "linear", factor: 4 } }) as LlamaConfig;
  assert.equal(v5.ropeTheta, 1e6);
  assert.deepEqual(v5.ropeScaling, { ropeType: "linear", factor: 4 });
  assert.throws(() => parseConfig({ model_type: "llama", rope_scaling: { rope_type: "yarn", factor: 4 } }, "x/config.json"), (e: Error) => e instanceof ConfigError && /yarn/.test(e.message) && /default, linear/.test(e.message));
});

test("HF class defaults for absent fields", () => {
  const bert = parseConfig({ model_type: "bert" }) as BertConfig;
  assert.equal(bert.vocabSize, 30522);
  assert.equal(bert.hiddenSize, 768);
  assert.equal(bert.maxPositionEmbeddings, 512);
  assert.equal(bert.hiddenAct, "gelu");
  assert.equal(bert.classifierDropout, null);
  const roberta = parseConfig({ model_type: "roberta" }) as BertConfig;
  assert.equal(roberta.padTokenId, 1);
  const gpt2 = parseConfig({ model_type: "gpt2" }) as GPT2Config;
  assert.equal(gpt2.nPositions, 1024);
  assert.equal(gpt2.layerNormEpsilon, 1e-5);
  assert.equal(gpt2.eosTokenId, 50256);
  const qwen = parseConfig({ model_type: "qwen2" }) as LlamaConfig;
  assert.equal(qwen.qkvBias, true);
  assert.equal(qwen.oBias, false);
  const mistral = parseConfig({ model_type: "mistral" }) as LlamaConfig;
  assert.equal(mistral.numKeyValueHeads, 8);
  assert.equal(mistral.slidingWindow, 4096);
  const llama = parseConfig({ model_type: "llama", attention_bias: true }) as LlamaConfig;
  assert.equal(llama.qkvBias && llama.oBias, true);
  const distil = parseConfig({ model_type: "distilbert", dim: 64, n_layers: 3, n_heads: 4, hidden_dim: 100 }) as BertConfig;
  assert.deepEqual([distil.hiddenSize, distil.numHiddenLayers, distil.numAttentionHeads, distil.intermediateSize], [64, 3, 4, 100]);
});

test("labels: num_labels from id2label, label2id derived, problem_type validated", () => {
  const c = parseConfig({ model_type: "bert", id2label: { "0": "neg", "1": "neu", "2": "pos" } });
  assert.equal(c.numLabels, 3);
  assert.deepEqual(c.label2id, { neg: 0, neu: 1, pos: 2 });
  const n = parseConfig({ model_type: "bert", num_labels: 5 });
  assert.equal(n.numLabels, 5);
  assert.equal(n.id2label[4], "LABEL_4");
  assert.equal(parseConfig({ model_type: "bert", problem_type: "regression" }).problemType, "regression");
  assert.throws(() => parseConfig({ model_type: "bert", problem_type: "ranking" }, "c.json"), (e: Error) => e instanceof ConfigError && /problem_type/.test(e.message) && /c\.json/.test(e.message));
  const o = applyLabelOptions(parseConfig({ model_type: "bert" }), { numLabels: 4 });
  assert.equal(o.numLabels, 4);
  assert.deepEqual(Object.keys(o.id2label), ["0", "1", "2", "3"]);
  const l = applyLabelOptions(parseConfig({ model_type: "bert" }), { id2label: { 0: "a", 1: "b", 2: "c" } });
  assert.equal(l.numLabels, 3);
  assert.deepEqual(l.label2id, { a: 0, b: 1, c: 2 });
  assert.throws(() => applyLabelOptions(parseConfig({ model_type: "bert" }), { numLabels: 2, id2label: { 0: "a", 1: "b", 2: "c" } }), ConfigError);
});

test("errors name the field and the file; unsupported model_type lists the supported ones", () => {
  const dir = mkdtempSync(join(tmpdir(), "cfg-"));
  const file = join(dir, "config.json");
  writeFileSync(file, JSON.stringify({ model_type: "bert", hidden_size: "big" }));
  assert.throws(() => loadConfigFile(dir), (e: Error) => e instanceof ConfigError && e.message.includes(file) && /'hidden_size'/.test(e.message) && /"big"/.test(e.message));
  writeFileSync(file, JSON.stringify({ model_type: "llama", tie_word_embeddings: "yes" }));
  assert.throws(() => loadConfigFile(file), (e: Error) => e instanceof ConfigError && /'tie_word_embeddings'/.test(e.message));
  writeFileSync(file, JSON.stringify({ model_type: "whisper" }));
  assert.throws(() => loadConfigFile(dir), (e: Error) => e instanceof ConfigError && /'whisper'/.test(e.message) && SUPPORTED_MODEL_TYPES.every((t) => e.message.includes(t)));
  writeFileSync(file, "{ not json");
  assert.throws(() => loadConfigFile(dir), (e: Error) => e instanceof FormatError && e.message.includes(file));
  assert.throws(() => loadConfigFile(join(dir, "missing")), ConfigError);
  assert.throws(() => parseConfig({ hidden_size: 3 }, "z.json"), (e: Error) => e instanceof ConfigError && /model_type/.test(e.message));
});

test("configToJSON writes HF spelling back and overlays label changes", () => {
  const llama = loadConfigFile(join(GOLDEN, "llama-tiny-random"));
  const out = configToJSON(llama, ["LlamaForCausalLM"]);
  assert.deepEqual(out, Object.fromEntries(Object.entries(llama.raw).sort(([a], [b]) => (a < b ? -1 : 1))));
  const gpt2 = loadConfigFile(join(GOLDEN, "gpt2-tiny-random"));
  const j = configToJSON(applyLabelOptions(gpt2, { numLabels: 3, problemType: "single_label_classification" }), ["GPT2ForSequenceClassification"]);
  assert.equal(j.n_embd, 32);
  assert.equal(j.hidden_size, undefined, "no camelCase or renamed fields leak out");
  assert.deepEqual(j.id2label, { 0: "LABEL_0", 1: "LABEL_1", 2: "LABEL_2" });
  assert.equal(j.problem_type, "single_label_classification");
  assert.deepEqual(j.architectures, ["GPT2ForSequenceClassification"]);
  const again = parseConfig(j, "again");
  assert.equal(again.numLabels, 3);
  assert.equal(again.hiddenSize, 32);
});
