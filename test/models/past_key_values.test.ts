// pastKeyValues and inputsEmbeds as PEFT uses them, checked against the PEFT goldens:
// prefix tuning passes per-layer keys/values (BERT positions then start at P, the mask covers P+T),
// prompt tuning prepends virtual token embeddings through inputsEmbeds.
import { test } from "node:test";
import { join } from "node:path";
import { AutoModelForSequenceClassification } from "../../src/models/auto.js";
import { BertForSequenceClassification } from "../../src/models/bert_heads.js";
import { loadSafetensors } from "../../src/io/safetensors.js";
import * as ops from "../../src/ops/index.js";
import type { KeyValue } from "../../src/models/modeling_utils.js";
import { assertClose, GOLDEN, goldenJson, GRAD_TOL } from "./helpers.js";

const base = goldenJson("bert-tiny-random");
const { input_ids, attention_mask, token_type_ids, labels } = base.inputs;

async function bertWithClassifier(adapterDir: string) {
  const m = (await AutoModelForSequenceClassification.fromPretrained(join(GOLDEN, "bert-tiny-random"))) as BertForSequenceClassification;
  const ad = loadSafetensors(join(adapterDir, "adapter_model.safetensors"));
  const sd = m.stateDict();
  sd.get("classifier.weight")!.data.set(ad.get("base_model.classifier.weight")!.f32());
  sd.get("classifier.bias")!.data.set(ad.get("base_model.classifier.bias")!.f32());
  return { m, prompt: ad.get("prompt_embeddings")! };
}

test("BERT prefix keys/values via pastKeyValues reproduce peft prefix tuning", async () => {
  const dir = join(GOLDEN, "bert-prefix-tuning");
  const g = goldenJson("bert-prefix-tuning");
  const { m, prompt } = await bertWithClassifier(join(dir, "adapter"));
  prompt.requiresGrad_();
  const P = 4, L = 2, H = 2, D = 16, B = 3;
  // peft: [P, L·2·H·D] → view(B, P, 2L, H, D) → permute(2, 0, 3, 1, 4) → pairs (key, value) per layer
  const e = prompt.reshape([1, P, 2 * L, H, D]).expand([B, P, 2 * L, H, D]).permute([2, 0, 3, 1, 4]);
  const past: KeyValue[] = [];
  for (let l = 0; l < L; l++) past.push({ key: e.select(0, 2 * l).contiguous(), value: e.select(0, 2 * l + 1).contiguous() });
  const out = m.forward({ inputIds: input_ids, attentionMask: attention_mask, tokenTypeIds: token_type_ids, pastKeyValues: past, labels });
  assertClose(out.logits!, g.logits, "prefix logits");
  assertClose(out.loss!, g.loss, "prefix loss");
  out.loss!.backward();
  const grads = loadSafetensors(join(dir, "grads.safetensors"));
  assertClose(prompt.grad!, grads.get("prompt_encoder.default.embedding.weight")!, "prefix gradient", GRAD_TOL);
  assertClose(m.stateDict().get("classifier.weight")!.grad!, grads.get("base_model.classifier.modules_to_save.default.weight")!, "classifier gradient", GRAD_TOL);
  // the same with the mask already covering the prefix
  const full = attention_mask.map((r: number[]) => [1, 1, 1, 1, ...r]);
  assertClose(m.forward({ inputIds: input_ids, attentionMask: full, tokenTypeIds: token_type_ids, pastKeyValues: past }).logits!, g.logits, "mask over P+T");
});

test("BERT inputsEmbeds with prepended virtual tokens reproduce peft prompt tuning", async () => {
  const dir = join(GOLDEN, "bert-prompt-tuning");
  const g = goldenJson("bert-prompt-tuning");
  const { m, prompt } = await bertWithClassifier(join(dir, "adapter"));
  prompt.requiresGrad_();
  const B = 3;
  const words = m.getInputEmbeddings().forward(input_ids);
  const embeds = ops.cat([prompt.unsqueeze(0).expand([B, 4, 32]).contiguous(), words], 1);
  const out = m.forward({
    inputsEmbeds: embeds,
    attentionMask: attention_mask.map((r: number[]) => [1, 1, 1, 1, ...r]),
    tokenTypeIds: token_type_ids.map((r: number[]) => [0, 0, 0, 0, ...r]),
    labels,
  });
  assertClose(out.logits!, g.logits, "prompt logits");
  assertClose(out.loss!, g.loss, "prompt loss");
  out.loss!.backward();
  const grads = loadSafetensors(join(dir, "grads.safetensors"));
  assertClose(prompt.grad!, grads.get("prompt_encoder.default.embedding.weight")!, "prompt gradient", GRAD_TOL);
});
