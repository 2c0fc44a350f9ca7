// Prompt learning on encoder–decoders beyond the PEFT goldens (prompt_seq2seq.test.ts): peft-ts's
// encoder_prefix option (gradients against finite differences, files, cached = uncached generation)
// and the errors for adapters that do not fit the model.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { noGrad } from "../../src/tensor/autograd.js";
import { manualSeed } from "../../src/tensor/random.js";
import { ConfigError } from "../../src/tensor/errors.js";
import { loadSafetensors } from "../../src/io/safetensors.js";
import { PeftModel, getPeftModel } from "../../src/peft/peft_model.js";
import { PrefixTuningConfig, PromptTuningConfig, promptEncoderOf } from "../../src/peft/prompt/index.js";
import { generate } from "../../src/models/generate.js";
import { AutoModelForCausalLM, AutoModelForSeq2SeqLM } from "../../src/models/auto.js";
import { GOLDEN, assertClose, tmp } from "./helpers.js";

const FIX = join(import.meta.dirname, "..", "fixtures", "seq2seq");
const inputs = JSON.parse(readFileSync(join(FIX, "t5-tiny-random", "golden.json"), "utf8")).inputs;
const quiet = { warn: () => {} };
const load = (name: string) => AutoModelForSeq2SeqLM.fromPretrained(join(FIX, name), { log: () => {} });
const batch = { inputIds: inputs.input_ids, attentionMask: inputs.attention_mask, labels: inputs.labels };

async function encoderPrefixModel(): Promise<PeftModel> {
  manualSeed(7);
  return getPeftModel(await load("t5-tiny-random"), new PrefixTuningConfig({ taskType: "SEQ_2_SEQ_LM", numVirtualTokens: 2, encoderPrefix: true }), "default", quiet);
}

test("encoder_prefix: rows twice PEFT's width; the first half acts exactly as PEFT's decoder prefix, the second changes the encoder", async () => {
  const pm = await encoderPrefixModel();
  const w = promptEncoderOf(pm).get("default").embedding.weight;
  assert.deepEqual(w.shape, [2, 2 * 4 * 32], "[V, num_layers·4·token_dim]");
  const base = await load("t5-tiny-random");
  const encBase = noGrad(() => base.encode({ inputIds: inputs.input_ids, attentionMask: inputs.attention_mask }));
  const enc = noGrad(() => pm.encode({ inputIds: inputs.input_ids, attentionMask: inputs.attention_mask }));
  assert.deepEqual(enc.shape, encBase.shape, "prefixes add keys, not positions, to the encoder output");
  const a = enc.f32(), b = encBase.f32();
  assert.ok(a.some((v, i) => Math.abs(v - b[i]) > 1e-3), "the encoder prefixes change the encoder output");
  // the same decoder half as a plain (PEFT) prefix adapter, fed the encoder output of the prefixed encoder
  const plain = getPeftModel(await load("t5-tiny-random"), new PrefixTuningConfig({ taskType: "SEQ_2_SEQ_LM", numVirtualTokens: 2 }), "default", quiet);
  const half = promptEncoderOf(plain).get("default").embedding.weight;
  const src = w.f32(), dst = half.data as Float32Array;
  for (let v = 0; v < 2; v++) dst.set(src.subarray(v * 256, v * 256 + 128), v * 128);
  const x = { encoderOutputs: { lastHiddenState: enc }, attentionMask: inputs.attention_mask, labels: inputs.labels };
  assertClose(noGrad(() => plain.forward(x)).logits!, noGrad(() => pm.forward(batch)).logits!, "decoder half = PEFT's prefix", { abs: 1e-6, rel: 1e-6 });
});

test("encoder_prefix: gradients of the prefix rows (encoder and decoder halves) match finite differences", async () => {
  const pm = await encoderPrefixModel();
  const w = promptEncoderOf(pm).get("default").embedding.weight;
  pm.forward(batch).loss!.backward();
  const grad = w.grad!.f32(), data = w.data as Float32Array;
  const loss = () => noGrad(() => pm.forward(batch).loss!.item());
  // entries of both virtual tokens: decoder keys/values (< 128) and encoder keys/values (≥ 128)
  for (const i of [0, 9, 70, 127, 128, 150, 200, 255, 256 + 3, 256 + 131, 256 + 190, 511]) {
    const orig = data[i], eps = 1e-2;
    data[i] = orig + eps;
    const up = loss();
    data[i] = orig - eps;
    const down = loss();
    data[i] = orig;
    const numeric = (up - down) / (2 * eps);
    assert.ok(Math.abs(numeric - grad[i]) <= 2e-4 + 2e-2 * Math.abs(numeric), `d loss / d row[${i}]: analytic ${grad[i]}, numeric ${numeric}`);
  }
  assert.ok(Math.max(...Array.from(grad.subarray(128, 256), Math.abs)) > 1e-5, "the encoder half gets gradient");
});

test("encoder_prefix: saved with encoder_prefix true (PEFT's fields otherwise), loads back; cached generation = uncached", async () => {
  const pm = await encoderPrefixModel();
  const dir = tmp("s2s-encprefix-");
  await pm.savePretrained(dir);
  const cfg = JSON.parse(readFileSync(join(dir, "adapter_config.json"), "utf8"));
  assert.equal(cfg.encoder_prefix, true);
  assert.equal(cfg.num_transformer_submodules, 2);
  assert.deepEqual(loadSafetensors(join(dir, "adapter_model.safetensors")).get("prompt_embeddings")!.shape, [2, 256]);
  const back = await PeftModel.fromPretrained(await load("t5-tiny-random"), dir, quiet);
  assertClose(noGrad(() => back.forward(batch)).logits!, noGrad(() => pm.forward(batch)).logits!, "reloaded", { abs: 0, rel: 0 });
  const opts = { attentionMask: inputs.attention_mask, maxNewTokens: 6 };
  const cached = generate(back, inputs.input_ids, opts);
  assert.deepEqual(generate(back, inputs.input_ids, { ...opts, useCache: false }), cached);
  assert.deepEqual(generate(back, inputs.input_ids, { ...opts, numBeams: 2, useCache: false }), generate(back, inputs.input_ids, { ...opts, numBeams: 2 }));
  // a default prefix config writes no encoder_prefix field (PEFT's config, field for field)
  const plain = getPeftModel(await load("t5-tiny-random"), new PrefixTuningConfig({ taskType: "SEQ_2_SEQ_LM", numVirtualTokens: 2 }), "default", quiet);
  const d2 = tmp("s2s-prefix-");
  await plain.savePretrained(d2);
  assert.ok(!("encoder_prefix" in JSON.parse(readFileSync(join(d2, "adapter_config.json"), "utf8"))));
});

test("prompt learning errors: seq2seq adapters on decoder-only models and the reverse, prefixes that do not fit", async () => {
  const llama = await AutoModelForCausalLM.fromPretrained(join(GOLDEN, "llama-tiny-random"));
  assert.throws(() => getPeftModel(llama, new PromptTuningConfig({ taskType: "SEQ_2_SEQ_LM", numVirtualTokens: 2 }), "default", quiet),
    (e: Error) => e instanceof ConfigError && /SEQ_2_SEQ_LM needs an encoder-decoder/.test(e.message));
  await assert.rejects(PeftModel.fromPretrained(llama, join(FIX, "prompt", "t5-prefix-tuning", "adapter"), quiet), /SEQ_2_SEQ_LM needs an encoder-decoder/);
  const t5 = await load("t5-tiny-random");
  assert.throws(() => getPeftModel(t5, new PromptTuningConfig({ taskType: "CAUSAL_LM", numVirtualTokens: 2 }), "default", quiet),
    (e: Error) => e instanceof ConfigError && /CAUSAL_LM does not fit the encoder-decoder T5ForConditionalGeneration/.test(e.message));
  assert.throws(() => getPeftModel(t5, new PrefixTuningConfig({ taskType: "SEQ_2_SEQ_LM", numVirtualTokens: 2, numTransformerSubmodules: 1 }), "default", quiet),
    /num_transformer_submodules=1 does not fit T5ForConditionalGeneration, which is an encoder-decoder \(2\)/);
  // BART's decoder has 2 heads, PEFT's prefix takes the encoder's 4 (num_attention_heads): PEFT fails inside the model
  const bart = await load("bart-tiny-random");
  assert.throws(() => getPeftModel(bart, new PrefixTuningConfig({ taskType: "SEQ_2_SEQ_LM", numVirtualTokens: 2 }), "default", quiet),
    /num_attention_heads=4 of width token_dim\/heads=8, but the decoder of BartForConditionalGeneration has 2 heads of width 16/);
  assert.throws(() => new PrefixTuningConfig({ taskType: "CAUSAL_LM", numVirtualTokens: 2, encoderPrefix: true }), /encoder_prefix needs task_type SEQ_2_SEQ_LM/);
  // PEFT's BART prompt tuning works (prompt_seq2seq.test.ts); a hand-set num_attention_heads=2 makes prefix tuning fit its decoder
  const ok = getPeftModel(bart, new PrefixTuningConfig({ taskType: "SEQ_2_SEQ_LM", numVirtualTokens: 2, numAttentionHeads: 2 }), "default", quiet);
  assert.equal(noGrad(() => ok.forward(batch)).logits!.shape[1], 6);
});
