// BART and Marian (shared and separate embeddings) against transformers' goldens, plus what is
// particular to them: names, tying, final_logits_bias, the denoising default and config errors.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { noGrad } from "../../src/tensor/autograd.js";
import { ConfigError } from "../../src/tensor/errors.js";
import { parseConfig } from "../../src/io/hf_config.js";
import { loadSafetensors } from "../../src/io/safetensors.js";
import { BartForConditionalGeneration, MarianMTModel } from "../../src/models/bart.js";
import { assertClose } from "./helpers.js";
import { loadSeq2Seq, SEQ2SEQ_FIXTURES, seq2seqGolden, seq2seqGoldenTests } from "./seq2seq_helpers.js";

for (const c of ["bart-tiny-random", "marian-tiny-random", "marian-separate-tiny-random"]) seq2seqGoldenTests(c);

const load = async (c: string) => (await loadSeq2Seq(c)) as BartForConditionalGeneration;
const weights = (c: string) => loadSafetensors(join(SEQ2SEQ_FIXTURES, c, "model.safetensors"));

test("bart/marian: PyTorch names, tying, final_logits_bias from the checkpoint (zeros when absent)", async () => {
  const bart = await load("bart-tiny-random"), marian = await load("marian-tiny-random"), sep = await load("marian-separate-tiny-random");
  assert.equal(bart.architectureName, "BartForConditionalGeneration");
  assert.ok(marian instanceof MarianMTModel && marian.architectureName === "MarianMTModel");
  assert.equal(bart.lm_head.weight, bart.model.shared!.weight);
  assert.equal(bart.model.encoder.embed_tokens, bart.model.decoder.embed_tokens);
  assert.equal(sep.model.shared, undefined);
  assert.notEqual(sep.model.encoder.embed_tokens.weight, sep.model.decoder.embed_tokens.weight, "separate embeddings");
  assert.equal(sep.lm_head.weight, sep.model.decoder.embed_tokens.weight, "head tied to the decoder's embedding");
  for (const k of ["model.encoder.embed_positions.weight", "model.encoder.layernorm_embedding.bias", "model.decoder.layers.1.encoder_attn.k_proj.bias", "final_logits_bias"]) {
    assert.ok(bart.stateDict().has(k), k);
  }
  assert.ok(!marian.stateDict().has("model.encoder.embed_positions.weight"), "Marian's sinusoidal table is not a weight");
  assert.ok(!marian.stateDict().has("model.encoder.layernorm_embedding.weight"));
  assertClose(bart.final_logits_bias, weights("bart-tiny-random").get("final_logits_bias")!, "final_logits_bias", { abs: 0, rel: 0 });
  const w = weights("marian-tiny-random");
  w.delete("final_logits_bias");
  const fresh = new MarianMTModel(marian.config);
  fresh.loadWeights(w, "no bias", { log: () => {} });
  assert.ok(fresh.final_logits_bias.f32().every((x) => x === 0));
});

test("bart: without decoder inputs the encoder's ids shifted right are decoded (BartModel's denoising default)", async () => {
  const bart = await load("bart-tiny-random"), g = seq2seqGolden("bart-tiny-random");
  const ids: number[][] = g.inputs.input_ids;
  const shifted = ids.map((r) => [bart.config.decoderStartTokenId!, ...r.slice(0, -1)]);
  noGrad(() => {
    const a = bart.forward({ inputIds: ids, attentionMask: g.inputs.attention_mask });
    const b = bart.forward({ inputIds: ids, attentionMask: g.inputs.attention_mask, decoderInputIds: shifted });
    assertClose(a.logits, b.logits, "default decoder inputs", { abs: 0, rel: 0 });
  });
  const marian = await load("marian-tiny-random");
  assert.throws(() => marian.forward({ inputIds: ids }), /decoderInputIds/);
});

test("bart/marian config: typed errors; generation_config forced_eos read", async () => {
  const raw = JSON.parse(readFileSync(join(SEQ2SEQ_FIXTURES, "bart-tiny-random", "config.json"), "utf8"));
  assert.throws(() => parseConfig({ ...raw, decoder_attention_heads: 3 }, "c.json"), (e: Error) => e instanceof ConfigError && /decoder_attention_heads/.test(e.message));
  assert.throws(() => parseConfig({ ...raw, scale_embedding: "yes" }, "c.json"), /'scale_embedding'/);
  assert.throws(() => new MarianMTModel(parseConfig(raw, "c.json")), /needs model_type marian/);
  assert.throws(() => new BartForConditionalGeneration(parseConfig({ ...raw, activation_function: "swoosh" }, "c.json")).forward({ inputIds: [[5, 6]], decoderInputIds: [[2]] }), /activation 'swoosh'/);
  const marian = await load("marian-tiny-random");
  assert.equal(marian.generationConfig.forcedEosTokenId, 0);
  assert.throws(() => marian.forward({ inputIds: [[5, 6]], decoderInputIds: [Array(41).fill(5)] }), /max_position_embeddings=40/);
});

test("encoder-decoder generate: ragged sources are right-padded (absolute positions stay those of each row alone)", async () => {
  for (const c of ["bart-tiny-random", "marian-tiny-random", "t5-tiny-random"]) {
    const model = await loadSeq2Seq(c);
    // (left padding changes these models' outputs: Marian's 12 tokens for row 1 differ from alone)
    const rows = [[13, 7, 42, 9, 21, 33, 5, 8, 9, 10], [4, 28, 17], [4]];
    const batch = model.generate(rows, { maxNewTokens: 12, eosTokenId: null });
    rows.forEach((r, b) => assert.deepEqual(batch[b], model.generate([r], { maxNewTokens: 12, eosTokenId: null })[0], `${c} row ${b}`));
  }
});
