// The golden checks every encoder-decoder case gets (test/fixtures/seq2seq, made by
// scripts/fixtures/make_seq2seq_goldens.py): logits, encoder states, loss, gradients, greedy ids.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { noGrad } from "../../src/tensor/autograd.js";
import { loadSafetensors } from "../../src/io/safetensors.js";
import { AutoModelForSeq2SeqLM } from "../../src/models/auto.js";
import { generate } from "../../src/models/generate.js";
import { enableGradientCheckpointing } from "../../src/train/grad_checkpoint.js";
import { assertClose, GRAD_TOL } from "./helpers.js";

export const SEQ2SEQ_FIXTURES = join(import.meta.dirname, "..", "fixtures", "seq2seq");
export const seq2seqGolden = (c: string) => JSON.parse(readFileSync(join(SEQ2SEQ_FIXTURES, c, "golden.json"), "utf8"));
export const seq2seqTensors = (c: string, f: string) => loadSafetensors(join(SEQ2SEQ_FIXTURES, c, f));
export const loadSeq2Seq = (c: string) => AutoModelForSeq2SeqLM.fromPretrained(join(SEQ2SEQ_FIXTURES, c), { log: () => {} });

/** Registers the golden tests of one case. */
export function seq2seqGoldenTests(c: string): void {
  test(`${c}: logits, encoder hidden state and loss match transformers`, async () => {
    const model = await loadSeq2Seq(c), g = seq2seqGolden(c), outs = seq2seqTensors(c, "golden_outputs.safetensors");
    const { input_ids, attention_mask, labels, decoder_attention_mask } = g.inputs;
    const out = noGrad(() => model.forward({ inputIds: input_ids, attentionMask: attention_mask, labels }));
    assertClose(out.logits, outs.get("logits")!, "logits");
    assertClose(out.encoderLastHiddenState, outs.get("encoder_last_hidden_state")!, "encoder_last_hidden_state");
    assertClose(out.loss!, g.loss, "loss");
    const masked = noGrad(() => model.forward({
      inputIds: input_ids, attentionMask: attention_mask, decoderInputIds: g.decoder_input_ids_from_labels, decoderAttentionMask: decoder_attention_mask,
    }));
    assertClose(masked.logits, outs.get("logits_decoder_attention_mask")!, "logits with decoder_attention_mask");
    const row0 = noGrad(() => model.forward({ inputIds: [input_ids[0]], decoderInputIds: [g.decoder_input_ids_from_labels[0]] }));
    assertClose(row0.logits, outs.get("logits_row0_no_attention_mask")!, "row 0 without masks");
    // the encoder output is reusable: the decoder alone gives the same logits
    const again = noGrad(() => model.forward({ encoderOutputs: { lastHiddenState: out.encoderLastHiddenState }, attentionMask: attention_mask, labels }));
    assertClose(again.logits, out.logits, "logits from reused encoder outputs", { abs: 0, rel: 0 });
  });

  test(`${c}: gradients of every parameter match transformers (also with gradient checkpointing)`, async () => {
    const g = seq2seqGolden(c), grads = seq2seqTensors(c, "golden_grads.safetensors");
    const { input_ids, attention_mask, labels } = g.inputs;
    for (const checkpointing of [false, true]) {
      const model = await loadSeq2Seq(c);
      if (checkpointing) assert.ok(enableGradientCheckpointing(model.train()) > 0);
      model.forward({ inputIds: input_ids, attentionMask: attention_mask, labels }).loss!.backward();
      // trainable parameters (PyTorch buffers such as final_logits_bias are frozen parameters here)
      const params = new Map(model.namedParameters().filter(([, p]) => p.requiresGrad));
      assert.deepEqual([...params.keys()], g.named_parameters, "named_parameters (tied ones once, PyTorch order)");
      for (const [name, p] of params) assertClose(p.grad!, grads.get(name)!, `grad ${name}${checkpointing ? " (checkpointing)" : ""}`, GRAD_TOL);
    }
  });

  test(`${c}: greedy and beam-3 generation match transformers token for token, cached and uncached`, async () => {
    const model = await loadSeq2Seq(c), g = seq2seqGolden(c);
    const { input_ids, attention_mask } = g.inputs;
    for (const [name, v] of Object.entries<any>(g.generate)) {
      const alone = name === "greedy_row1_alone";
      const ids = alone ? [input_ids[1].slice(0, 6)] : input_ids;
      const opts = {
        attentionMask: alone ? undefined : attention_mask, maxNewTokens: v.max_new_tokens, minNewTokens: v.min_new_tokens,
        eosTokenId: v.eos_token_id, forcedBosTokenId: v.forced_bos_token_id, forcedEosTokenId: v.forced_eos_token_id, numBeams: v.num_beams,
        lengthPenalty: v.length_penalty,
      };
      assert.deepEqual(generate(model, ids, opts), v.output_ids, `${name} (KV cache)`);
      assert.deepEqual(model.generate(ids, { ...opts, useCache: false }), v.output_ids, `${name} (no cache)`);
    }
  });

  test(`${c}: savePretrained writes HF's files (tied weights once) and loads back with the same logits`, async () => {
    const model = await loadSeq2Seq(c), g = seq2seqGolden(c);
    const dir = mkdtempSync(join(tmpdir(), "seq2seq-save-"));
    try {
      await model.savePretrained(dir);
      const ours = [...loadSafetensors(join(dir, "model.safetensors")).keys()].sort();
      const theirs = [...loadSafetensors(join(SEQ2SEQ_FIXTURES, c, "model.safetensors")).keys()].sort();
      assert.deepEqual(ours, theirs, "the tensors transformers saved");
      const back = await AutoModelForSeq2SeqLM.fromPretrained(dir, { log: () => {} });
      const x = { inputIds: g.inputs.input_ids, attentionMask: g.inputs.attention_mask, decoderInputIds: g.decoder_input_ids_from_labels };
      assertClose(noGrad(() => back.forward(x).logits), noGrad(() => model.forward(x).logits), "logits after the round trip", { abs: 0, rel: 0 });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test(`${c}: a cached decoding step equals the uncached forward; cross-attention keys/values are computed once`, async () => {
    const model = await loadSeq2Seq(c), g = seq2seqGolden(c);
    const { input_ids, attention_mask } = g.inputs;
    const dec = g.decoder_input_ids_from_labels as number[][];
    noGrad(() => {
      const full = model.forward({ inputIds: input_ids, attentionMask: attention_mask, decoderInputIds: dec });
      const T = dec[0].length;
      const first = model.forward({ inputIds: input_ids, attentionMask: attention_mask, decoderInputIds: dec.map((r) => r.slice(0, T - 1)), useCache: true });
      const cross = first.pastKeyValues!.map((l) => l.cross!);
      const step = model.forward({
        encoderOutputs: { lastHiddenState: first.encoderLastHiddenState }, attentionMask: attention_mask,
        decoderInputIds: dec.map((r) => [r[T - 1]]), pastKeyValues: first.pastKeyValues, useCache: true,
      });
      const [B, , V] = full.logits.shape;
      const last = full.logits.slice(1, T - 1, T).contiguous().reshape([B, 1, V]);
      assertClose(step.logits, last, "last position: cached step vs full forward");
      step.pastKeyValues!.forEach((l, i) => {
        assert.equal(l.cross, cross[i], `layer ${i}: cross-attention cache reused`);
        assert.equal(l.key.shape[2], T, `layer ${i}: self-attention cache grew to ${T}`);
      });
    });
  });
}
