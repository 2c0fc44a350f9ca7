// Seq2seq data: DataCollatorForSeq2Seq's padding and decoder inputs, the translation/summarization
// preprocessing (translation rows or columns, source prefix, truncation with a warning) and the
// generation metrics the task computes from ids.
import { test } from "node:test";
import assert from "node:assert/strict";
import { DataCollatorForSeq2Seq } from "../../src/data/collate.js";
import { Dataset } from "../../src/data/datasets.js";
import { preprocessSeq2Seq } from "../../src/data/tasks/seq2seq.js";
import { getTask } from "../../src/data/tasks/registry.js";
import { bleu, chrf, rouge } from "../../src/data/metrics.js";
import { shiftTokensRight } from "../../src/models/seq2seq.js";
import { ConfigError } from "../../src/tensor/errors.js";
import "../../src/data/tasks/all.js";
import { toyRows, toyTokenizer } from "./helpers/seq2seq_toy.js";

const tok = toyTokenizer();

test("DataCollatorForSeq2Seq: inputs padded with pad/0, labels with -100 to their own longest, decoder inputs = shiftTokensRight", () => {
  const c = new DataCollatorForSeq2Seq(tok, { model: { decoderStartTokenId: 0, padTokenId: 0 } });
  const b = c.call([{ inputIds: [5, 6, 1], labels: [9, 1] }, { inputIds: [5, 1], labels: [9, 8, 7, 1] }]);
  assert.deepEqual(b.inputIds, [[5, 6, 1], [5, 1, 0]]);
  assert.deepEqual(b.attentionMask, [[1, 1, 1], [1, 1, 0]]);
  assert.deepEqual(b.labels, [[9, 1, -100, -100], [9, 8, 7, 1]]);
  const flat = (b.labels as number[][]).flat();
  const want = shiftTokensRight({ data: Int32Array.from(flat), shape: [2, 4] }, 0, 0, "test");
  assert.deepEqual((b.decoderInputIds as number[][]).flat(), Array.from(want.data));
  assert.deepEqual(b.decoderInputIds, [[0, 9, 1, 0], [0, 9, 8, 7]]);
});

test("DataCollatorForSeq2Seq: pad_to_multiple_of rounds inputs and labels; no model → no decoder inputs; a feature without labels is an error", () => {
  const c = new DataCollatorForSeq2Seq(tok, { padToMultipleOf: 4, labelPadTokenId: -1 });
  const b = c.call([{ inputIds: [5, 1], labels: [9, 8, 7, 6, 1] }]);
  assert.deepEqual(b.inputIds, [[5, 1, 0, 0]]);
  assert.deepEqual(b.labels, [[9, 8, 7, 6, 1, -1, -1, -1]]);
  assert.equal(b.decoderInputIds, undefined);
  assert.throws(() => c.call([{ inputIds: [5, 1], labels: [9, 1] }, { inputIds: [5, 1] , labels: 3 }]), ConfigError);
  assert.equal(c.call([{ inputIds: [5, 1] }]).labels, undefined);
});

test("preprocessSeq2Seq: translation rows with a source prefix, EOS on both sides, HF truncation and one warning per side", () => {
  const rows = new Dataset([{ translation: { en: "open the file", de: "die datei öffnen" } }, { translation: { en: "save", de: "speichern die neu fenster rot blau" } }]);
  const warnings: string[] = [];
  const ds = preprocessSeq2Seq(rows, tok, { sourceLang: "en", targetLang: "de", sourcePrefix: "translate: ", maxTargetLength: 4, source: "train.jsonl", warn: (m) => warnings.push(m) });
  const f = ds.toArray();
  assert.deepEqual(f[0].inputIds, tok.encode("translate: open the file"));
  assert.deepEqual(f[0].labels, tok.encode("die datei öffnen"));
  assert.deepEqual(f[1].labels, [...tok.encode("speichern die neu", { addSpecialTokens: false }), 1], "cut to 4 with EOS kept");
  assert.equal(warnings.length, 1);
  assert.match(warnings[0], /train\.jsonl: 1 of 2 target texts are longer than max_target_length 4 tokens and were truncated \(rows 2\)/);
});

test("preprocessSeq2Seq: plain columns, unlabelled rows, and clear errors for a missing language or column", () => {
  const cols = new Dataset([{ text: "open the big window", summary: "fenster" }]);
  const f = preprocessSeq2Seq(cols, tok, { sourceColumn: "text", targetColumn: "summary" }).toArray()[0];
  assert.deepEqual(f.labels, tok.encode("fenster"));
  const noTarget = preprocessSeq2Seq(new Dataset([{ text: "open" }]), tok, { sourceColumn: "text", targetColumn: "summary", unlabelled: true }).toArray()[0];
  assert.equal(noTarget.labels, undefined);
  assert.throws(() => preprocessSeq2Seq(new Dataset([{ translation: { en: "open" } }]), tok, { sourceLang: "fr", targetLang: "de", source: "dev.jsonl" }),
    (e: Error) => e instanceof ConfigError && /dev\.jsonl row 1: translation has no string 'fr'/.test(e.message));
  assert.throws(() => preprocessSeq2Seq(new Dataset([{ text: "open" }]), tok, { sourceColumn: "text", targetColumn: "summary", source: "x" }),
    (e: Error) => e instanceof ConfigError && /x row 1: no target text/.test(e.message));
  assert.throws(() => preprocessSeq2Seq(cols, tok, { sourceColumn: "text", maxTargetLength: 1 }), ConfigError);
});

test("translation / summarization tasks: registered as SEQ_2_SEQ_LM; metrics from generated ids = sacrebleu BLEU/chrF, ROUGE × 100, gen_len", () => {
  const tr = getTask("translation"), su = getTask("summarization");
  assert.equal(tr.taskType, "SEQ_2_SEQ_LM");
  assert.equal(su.taskType, "SEQ_2_SEQ_LM");
  const rows = new Dataset(toyRows(4));
  const prepared = tr.prepare({ train: rows, eval: rows }, tok, { sourceLang: "en", targetLang: "de", decoderStart: { decoderStartTokenId: 0, padTokenId: 0 } });
  const batch = prepared.collator.call(prepared.evalDataset!.toArray());
  assert.ok(Array.isArray(batch.decoderInputIds));
  // generated rows (decoder start 0 first, pad 0 after EOS) against the labels (−100 padded)
  const gen = [[0, ...tok.encode("die datei", { addSpecialTokens: false }), 1, 0], [0, ...tok.encode("rot blau fenster", { addSpecialTokens: false }), 1]];
  const labels = [[...tok.encode("die datei öffnen")], [...tok.encode("rot blau fenster"), -100]];
  const m = prepared.computeMetrics!({ predictions: gen, labelIds: labels });
  const preds = ["die datei", "rot blau fenster"], refs = ["die datei öffnen", "rot blau fenster"];
  assert.equal(m.bleu, bleu(preds, refs).score);
  assert.equal(m.chrf, chrf(preds, refs).score);
  assert.equal(m.gen_len, (3 + 4) / 2);
  assert.deepEqual(prepared.computeMetrics!({ predictions: [[[0.1, 0.2]]], labelIds: labels }), {}, "logits (no predict_with_generate): loss only");
  const sp = su.prepare({ eval: new Dataset([{ text: "open the file", summary: "die datei öffnen" }]) }, tok, {});
  const r = rouge(preds, refs);
  const ms = sp.computeMetrics!({ predictions: gen, labelIds: labels });
  assert.equal(ms.rougeL, 100 * r.rougeL);
  assert.equal(ms.rouge1, 100 * r.rouge1);
  assert.deepEqual(sp.decode!(gen.slice(0, 1)), [{ text: "open the file", summary: "die datei öffnen", prediction: "die datei" }]);
});
