// AutoModel on encoder-decoders: T5Model, BartModel, MarianModel (no LM head) and T5EncoderModel
// against transformers (test/fixtures/seq2seq/base_models.*, made by scripts/fixtures/make_seq2seq_base_goldens.py).
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, rmSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { noGrad } from "../../src/tensor/autograd.js";
import { ShapeError } from "../../src/tensor/errors.js";
import { loadSafetensors } from "../../src/io/safetensors.js";
import { AutoModel } from "../../src/models/auto.js";
import { T5EncoderModel } from "../../src/models/t5.js";
import type { Seq2SeqModelOutput } from "../../src/models/seq2seq_base.js";
import type { Seq2SeqInputs } from "../../src/models/seq2seq.js";
import { assertClose } from "./helpers.js";

const FIX = join(import.meta.dirname, "..", "fixtures", "seq2seq");
const meta = JSON.parse(readFileSync(join(FIX, "base_models.json"), "utf8"));
const want = loadSafetensors(join(FIX, "base_models.safetensors"));

for (const c of Object.keys(meta)) {
  test(`${c}: AutoModel gives ${meta[c].class} with transformers' last_hidden_state, encoder state and saved names`, async () => {
    const lines: string[] = [];
    const model = await AutoModel.fromPretrained(join(FIX, c), { log: (s) => lines.push(s) });
    assert.equal(model.architectureName, meta[c].class);
    const g = JSON.parse(readFileSync(join(FIX, c, "golden.json"), "utf8"));
    const x: Seq2SeqInputs = { inputIds: g.inputs.input_ids, attentionMask: g.inputs.attention_mask, decoderInputIds: g.decoder_input_ids_from_labels };
    const out = noGrad(() => model.forward(x)) as Seq2SeqModelOutput;
    assertClose(out.lastHiddenState, want.get(`${c}/last_hidden_state`)!, "last_hidden_state");
    assertClose(out.encoderLastHiddenState, want.get(`${c}/encoder_last_hidden_state`)!, "encoder_last_hidden_state");
    const masked = noGrad(() => model.forward({ ...x, decoderAttentionMask: g.inputs.decoder_attention_mask } as Seq2SeqInputs)) as Seq2SeqModelOutput;
    assertClose(masked.lastHiddenState, want.get(`${c}/last_hidden_state_decoder_mask`)!, "last_hidden_state with decoder_attention_mask");
    // a cached step continues the decoder exactly
    const T = (g.decoder_input_ids_from_labels[0] as number[]).length;
    const first = noGrad(() => model.forward({ ...x, decoderInputIds: g.decoder_input_ids_from_labels.map((r: number[]) => r.slice(0, T - 1)), useCache: true } as Seq2SeqInputs)) as Seq2SeqModelOutput;
    const step = noGrad(() => model.forward({
      encoderOutputs: { lastHiddenState: first.encoderLastHiddenState }, attentionMask: x.attentionMask,
      decoderInputIds: g.decoder_input_ids_from_labels.map((r: number[]) => [r[T - 1]]), pastKeyValues: first.pastKeyValues, useCache: true,
    } as Seq2SeqInputs)) as Seq2SeqModelOutput;
    assertClose(step.lastHiddenState, out.lastHiddenState.slice(1, T - 1, T).contiguous(), "cached step = last position");
    const dir = mkdtempSync(join(tmpdir(), "s2s-base-"));
    try {
      await model.savePretrained(dir);
      const saved = [...loadSafetensors(join(dir, "model.safetensors")).keys()].sort();
      // Marian's sinusoidal tables: parameters in PyTorch (saved), computed here (not saved, ignored on load)
      const theirs = (meta[c].saved_tensors as string[]).filter((k) => !(c.startsWith("marian") && k.endsWith("embed_positions.weight")));
      assert.deepEqual(saved, theirs, "save_pretrained's tensor names");
      const cfg = JSON.parse(readFileSync(join(dir, "config.json"), "utf8"));
      assert.deepEqual(cfg.architectures, [meta[c].class]);
      const back = await AutoModel.fromPretrained(dir, { log: () => {} });
      assertClose((noGrad(() => back.forward(x)) as Seq2SeqModelOutput).lastHiddenState, out.lastHiddenState, "reloaded", { abs: 0, rel: 0 });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    if (c.startsWith("t5")) {
      const enc = await T5EncoderModel.fromPretrained(join(FIX, c), { log: () => {} });
      assertClose(noGrad(() => enc.forward({ inputIds: x.inputIds, attentionMask: x.attentionMask })).lastHiddenState!, want.get(`${c}/t5_encoder_last_hidden_state`)!, "T5EncoderModel");
    }
  });
}

test("base models: no decoder inputs is a clear error (T5, Marian); BART shifts its input ids as transformers does", async () => {
  const t5 = await AutoModel.fromPretrained(join(FIX, "t5-tiny-random"), { log: () => {} });
  assert.throws(() => t5.forward({ inputIds: [[4, 5, 6]] }), (e: Error) => e instanceof ShapeError && /T5Model.forward: give decoderInputIds/.test(e.message));
  const marian = await AutoModel.fromPretrained(join(FIX, "marian-tiny-random"), { log: () => {} });
  assert.throws(() => marian.forward({ inputIds: [[4, 5, 6]] }), /MarianModel.forward: give decoderInputIds/);
  const bart = await AutoModel.fromPretrained(join(FIX, "bart-tiny-random"), { log: () => {} });
  const ids = [[0, 9, 14, 2]], start = (bart.config as { decoderStartTokenId: number }).decoderStartTokenId;
  const a = noGrad(() => bart.forward({ inputIds: ids } as Seq2SeqInputs)) as Seq2SeqModelOutput;
  const b = noGrad(() => bart.forward({ inputIds: ids, decoderInputIds: [[start, 0, 9, 14]] } as Seq2SeqInputs)) as Seq2SeqModelOutput;
  assertClose(a.lastHiddenState, b.lastHiddenState, "shifted input ids", { abs: 0, rel: 0 });
});
