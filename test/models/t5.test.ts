// T5 (original and v1.1) against transformers' goldens (test/fixtures/seq2seq, made by
// scripts/fixtures/make_seq2seq_goldens.py): logits, encoder states, loss, every gradient, greedy ids.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { noGrad } from "../../src/tensor/autograd.js";
import { ConfigError } from "../../src/tensor/errors.js";
import { parseConfig } from "../../src/io/hf_config.js";
import { loadSafetensors } from "../../src/io/safetensors.js";
import { AutoModelForSeq2SeqLM } from "../../src/models/auto.js";
import { relativePositionBucket, T5EncoderModel, T5ForConditionalGeneration, T5LayerAttention } from "../../src/models/t5.js";
import { assertClose, captureLog } from "./helpers.js";
import { loadSeq2Seq, SEQ2SEQ_FIXTURES, seq2seqGolden, seq2seqGoldenTests, seq2seqTensors } from "./seq2seq_helpers.js";

const FIX = SEQ2SEQ_FIXTURES, golden = seq2seqGolden, tensors = seq2seqTensors;
const load = async (c: string) => (await loadSeq2Seq(c)) as T5ForConditionalGeneration;

for (const c of ["t5-tiny-random", "t5-v1_1-tiny-random"]) seq2seqGoldenTests(c);

test("t5: relative position buckets equal HF's for every distance in [-600, 600]", () => {
  const t = JSON.parse(readFileSync(join(FIX, "t5_relative_buckets.json"), "utf8"));
  const rel: number[] = t.relative_positions;
  for (const [key, bi, n, max] of [["bidirectional_32_128", true, 32, 128], ["causal_32_128", false, 32, 128], ["bidirectional_8_20", true, 8, 20], ["causal_8_20", false, 8, 20]] as const) {
    assert.deepEqual(rel.map((r) => relativePositionBucket(r, bi, n, max)), t[key], key);
  }
});

test("t5: tied head (shared.weight, rescaled) vs v1.1's own head; T5EncoderModel; state_dict names", async () => {
  const t5 = await load("t5-tiny-random"), v11 = await load("t5-v1_1-tiny-random");
  assert.equal(t5.lm_head.weight, t5.shared.weight, "original T5 ties lm_head to shared");
  assert.equal(t5.config.scaleDecoderOutputs, true);
  assert.notEqual(v11.lm_head.weight, v11.shared.weight, "v1.1 has its own lm_head");
  assert.equal(v11.config.scaleDecoderOutputs, false);
  assert.equal(v11.config.denseActFn, "gelu_new");
  assert.equal(v11.encoder.block.length, 3);
  assert.equal(v11.decoder.block.length, 2);
  const keys = [...t5.stateDict().keys()];
  for (const k of ["shared.weight", "encoder.embed_tokens.weight", "encoder.block.0.layer.0.SelfAttention.q.weight",
    "encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight", "decoder.block.1.layer.1.EncDecAttention.o.weight",
    "decoder.block.0.layer.2.DenseReluDense.wi.weight", "decoder.final_layer_norm.weight", "lm_head.weight"]) assert.ok(keys.includes(k), k);
  assert.ok(v11.stateDict().has("encoder.block.2.layer.1.DenseReluDense.wi_1.weight"));
  const enc = await T5EncoderModel.fromPretrained(join(FIX, "t5-tiny-random"), { log: () => {} });
  const g = golden("t5-tiny-random");
  const h = noGrad(() => enc.forward({ inputIds: g.inputs.input_ids, attentionMask: g.inputs.attention_mask }).lastHiddenState!);
  assertClose(h, tensors("t5-tiny-random", "golden_outputs.safetensors").get("encoder_last_hidden_state")!, "T5EncoderModel");
  // a tied config whose checkpoint holds a distinct head loads it untied, as transformers 5 does
  const raw = JSON.parse(readFileSync(join(FIX, "t5-v1_1-tiny-random", "config.json"), "utf8"));
  const tiedCfg = new T5ForConditionalGeneration(parseConfig({ ...raw, tie_word_embeddings: true, scale_decoder_outputs: false }, "cfg"));
  const { log, lines } = captureLog();
  tiedCfg.loadWeights(loadSafetensors(join(FIX, "t5-v1_1-tiny-random", "model.safetensors")), "v1.1", { log });
  assert.notEqual(tiedCfg.lm_head.weight, tiedCfg.shared.weight);
  assert.match(lines.join("\n"), /not tied/);
  assertClose(tiedCfg.lm_head.weight, v11.lm_head.weight, "head kept");
});

test("t5 config: bad fields are ConfigErrors naming them; labels need decoder_start_token_id", async () => {
  const raw = JSON.parse(readFileSync(join(FIX, "t5-tiny-random", "config.json"), "utf8"));
  assert.throws(() => parseConfig({ ...raw, feed_forward_proj: "gated-gelu-new" }, "c.json"), (e: Error) => e instanceof ConfigError && /feed_forward_proj/.test(e.message));
  assert.throws(() => parseConfig({ ...raw, feed_forward_proj: "fancy-relu" }, "c.json"), /feed_forward_proj/);
  assert.throws(() => parseConfig({ ...raw, d_kv: 0 }, "c.json"), /'d_kv'/);
  assert.throws(() => parseConfig({ ...raw, relative_attention_num_buckets: "8" }, "c.json"), /relative_attention_num_buckets/);
  assert.throws(() => new T5ForConditionalGeneration(parseConfig({ ...raw, feed_forward_proj: "gated-swoosh" }, "c.json")), /activation 'swoosh'/);
  const noStart = new T5ForConditionalGeneration(parseConfig({ ...raw, decoder_start_token_id: null }, "c.json"));
  assert.throws(() => noStart.forward({ inputIds: [[5, 6]], labels: [[7, 1]] }), (e: Error) => e instanceof ConfigError && /decoder_start_token_id/.test(e.message));
  assert.throws(() => noStart.forward({ inputIds: [[5, 6]] }), /decoderInputIds/);
});

test("t5 fromConfig: HF's _init_weights by role (initializer_factor), tied head left to shared", () => {
  const raw = JSON.parse(readFileSync(join(FIX, "t5-tiny-random", "config.json"), "utf8"));
  const m = AutoModelForSeq2SeqLM.fromConfig(parseConfig({ ...raw, d_model: 64, d_kv: 16, d_ff: 128, vocab_size: 512, relative_attention_num_buckets: 64, initializer_factor: 2 }, "c")) as T5ForConditionalGeneration;
  const std = (t: { f32(): Float32Array }) => {
    const d = t.f32();
    let s = 0;
    for (const x of d) s += x * x;
    return Math.sqrt(s / d.length);
  };
  const a = (m.encoder.block.get(0).layer.get(0) as T5LayerAttention).attention;
  const near = (x: number, want: number, what: string) => assert.ok(Math.abs(x / want - 1) < 0.15, `${what}: std ${x}, expected ≈ ${want}`);
  near(std(m.shared.weight), 2, "shared");
  near(std(a.q.weight), 2 * (64 * 16) ** -0.5, "q");
  near(std(a.k.weight), 2 * 64 ** -0.5, "k");
  near(std(a.relative_attention_bias!.weight), 2 * 64 ** -0.5, "relative_attention_bias");
  assert.equal(m.lm_head.weight, m.shared.weight);
  assert.ok(m.encoder.final_layer_norm.weight.f32().every((x) => x === 2), "norms = initializer_factor");
});
