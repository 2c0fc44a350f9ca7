import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { readGenerationConfig } from "../../src/models/modeling_utils.js";
import { toIntBatch } from "../../src/models/inputs.js";
import { attention } from "../../src/nn/attention.js";
import { fullKeyMask } from "../../src/nn/key_mask.js";
import { AutoModelForCausalLM, AutoModelForSequenceClassification } from "../../src/models/auto.js";
import { Tensor } from "../../src/tensor/tensor.js";
import { Rng } from "../../src/tensor/random.js";
import { ConfigError, FormatError, ShapeError } from "../../src/tensor/errors.js";
import { loadSafetensors } from "../../src/io/safetensors.js";
import { assertClose, GOLDEN, goldenJson } from "./helpers.js";

function randn(shape: number[], rng: Rng): Tensor {
  const t = Tensor.zeros(shape);
  rng.fillNormal(t.data);
  return t.requiresGrad_();
}

test("attention with a vanishing training dropout (mask drawn, nothing dropped) equals eval-mode attention", () => {
  const rng = new Rng(3);
  for (const [causal, Tq, Tk] of [[false, 5, 5], [true, 5, 5], [true, 3, 7]] as const) {
    const q = randn([2, 4, Tq, 8], rng), k = randn([2, 2, Tk, 8], rng), v = randn([2, 2, Tk, 8], rng);
    const mask = new Tensor(Float32Array.from({ length: 2 * Tk }, (_, i) => (i === Tk + 1 ? 0 : 1)), [2, Tk]);
    const opts = { keyMask: mask, causal, scale: 0.3 };
    const fused = attention(q, k, v, { ...opts, dropoutP: 0, training: false });
    // a vanishing dropout probability draws a mask (the dropout branch of the kernel) that drops nothing in practice
    const explicit = attention(q, k, v, { ...opts, dropoutP: 1e-30, training: true });
    assertClose(explicit, fused, `causal=${causal} Tq=${Tq} Tk=${Tk}`);
  }
});

test("training mode runs dropout and still backpropagates; eval mode is deterministic", async () => {
  const g = goldenJson("bert-tiny-random");
  const m = await AutoModelForSequenceClassification.fromPretrained(join(GOLDEN, "bert-tiny-random"));
  const batch = { inputIds: g.inputs.input_ids, attentionMask: g.inputs.attention_mask, labels: g.inputs.labels };
  m.train();
  const a = m.forward(batch);
  a.loss!.backward();
  assert.ok(m.stateDict().get("bert.encoder.layer.0.attention.self.query.weight")!.grad);
  const b = m.forward(batch);
  assert.notDeepEqual(a.logits!.f32(), b.logits!.f32(), "dropout is active in training");
  m.eval();
  assertClose(m.forward(batch).logits!, g.logits_without_token_type_ids, "eval logits");
});

test("input coercion and mask errors", () => {
  assert.deepEqual(toIntBatch([1, 2, 3], "x").shape, [1, 3]);
  assert.throws(() => toIntBatch([[1, 2], [3]], "inputIds"), (e: Error) => e instanceof ShapeError && /row 1 has length 1, expected 2/.test(e.message));
  assert.throws(() => fullKeyMask(toIntBatch([[1, 1, 1]], "m"), 1, 2, 4), (e: Error) => e instanceof ShapeError && /length 3, expected 2 or 6/.test(e.message));
});

test("generation_config.json provides generate() defaults; wrong types are ConfigErrors", async () => {
  const m = await AutoModelForCausalLM.fromPretrained(join(GOLDEN, "llama-tiny-random"));
  assert.deepEqual(m.generationConfig, { eosTokenId: 2, padTokenId: 0 });
  const dir = mkdtempSync(join(tmpdir(), "gen-"));
  writeFileSync(join(dir, "generation_config.json"), JSON.stringify({ do_sample: true, top_k: 5, temperature: 0.7, max_new_tokens: 3 }));
  assert.deepEqual(readGenerationConfig(dir), { doSample: true, topK: 5, temperature: 0.7, maxNewTokens: 3 });
  m.generationConfig = { maxNewTokens: 3 };
  assert.equal(m.generate([[1, 17]])[0].length, 5);
  writeFileSync(join(dir, "generation_config.json"), JSON.stringify({ do_sample: "yes" }));
  assert.throws(() => readGenerationConfig(dir), (e: Error) => e instanceof ConfigError && /'do_sample'/.test(e.message));
});

test("ignore_mismatched_sizes: a head of another size is refused by default, re-initialised (and named) when asked, every other weight loaded", async () => {
  const dir = join(GOLDEN, "bert-tiny-random"); // its checkpoint has a 2-class classifier
  await assert.rejects(AutoModelForSequenceClassification.fromPretrained(dir, { numLabels: 3, log: () => {} }), (e: Error) => {
    assert.ok(e instanceof FormatError, String(e));
    assert.match(e.message, /wrong shapes: classifier\.bias: checkpoint \[2\] vs model \[3\]; classifier\.weight: checkpoint \[2,32\] vs model \[3,32\] \(a head of another size is re-initialised with ignore_mismatched_sizes\)/);
    return true;
  });
  const lines: string[] = [];
  const m = await AutoModelForSequenceClassification.fromPretrained(dir, { numLabels: 3, ignoreMismatchedSizes: true, log: (s) => lines.push(s) });
  const ref = loadSafetensors(join(dir, "model.safetensors"));
  const sd = m.stateDict();
  assert.deepEqual(sd.get("classifier.weight")!.shape, [3, 32]);
  assert.deepEqual([...sd.get("classifier.bias")!.data], [0, 0, 0]); // HF: a fresh Linear's bias is zero
  const w = sd.get("classifier.weight")!.data;
  const std = Math.sqrt((w as Float32Array).reduce((a: number, x: number) => a + x * x, 0) / w.length);
  assert.ok(std > 0.03 && std < 0.3, `classifier.weight std ${std}, initializer_range 0.1`);
  for (const [k, t] of ref) {
    if (k.startsWith("classifier.")) continue;
    assert.deepEqual([...sd.get(k)!.data], [...t.data], k);
  }
  assert.deepEqual(lines, [
    `Some weights of BertForSequenceClassification were not initialized from the model checkpoint at ${dir} and are newly initialized because the shapes did not match:\n` +
    "- classifier.bias: found shape [2] in the checkpoint and [3] in the model instantiated\n" +
    "- classifier.weight: found shape [2, 32] in the checkpoint and [3, 32] in the model instantiated",
  ]);
});
