// problem_type "regression" on a BERT sequence-classification head against transformers
// (scripts/fixtures/bert_regression.py): one output, MSE on the squeezed logits, float labels.

import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Tensor } from "../../src/tensor/tensor.js";
import { BertForSequenceClassification } from "../../src/models/bert_heads.js";
import { applyLabelOptions, loadConfigFile, type BertConfig } from "../../src/io/hf_config.js";
import { loadSafetensors } from "../../src/io/safetensors.js";
import { assertClose, GOLDEN } from "./helpers.js";

const FIXTURE = join(import.meta.dirname, "..", "fixtures", "regression", "bert_tiny_regression.json");

test("bert-tiny-random with problem_type regression: logits and MSE loss match transformers (and torch's MSELoss)", async () => {
  const fx = JSON.parse(readFileSync(FIXTURE, "utf8"));
  const dir = join(GOLDEN, "bert-tiny-random");
  const config = applyLabelOptions(loadConfigFile(dir), { numLabels: 1, problemType: "regression" });
  const model = new BertForSequenceClassification(config as BertConfig);
  model.eval();
  // the checkpoint's encoder; the one-output head is new (random on both sides): transformers' values
  const weights = loadSafetensors(join(dir, "model.safetensors"));
  weights.set("classifier.weight", Tensor.from(fx.classifier_weight));
  weights.set("classifier.bias", Tensor.from(fx.classifier_bias));
  model.loadWeights(weights, "bert_tiny_regression.json");
  assert.equal(model.config.numLabels, 1);
  const { input_ids, attention_mask, token_type_ids } = fx.inputs;
  const out = model.forward({ inputIds: input_ids, attentionMask: attention_mask, tokenTypeIds: token_type_ids, labels: fx.labels });
  assert.equal(fx.config_problem_type, "regression");
  assertClose(out.logits!, fx.logits, "logits");
  assert.equal(fx.loss, fx.torch_mse_on_squeezed_logits, "HF's loss is MSELoss on the squeezed logits");
  assertClose(out.loss!, fx.loss, "loss");
});
