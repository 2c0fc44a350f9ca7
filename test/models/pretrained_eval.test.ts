// Validation-style figures of the pretrained mini models (PRETRAINED.md), replayed against PyTorch.
//
// PRETRAINED.md reports llama-mini-en validation loss 4.281 nats (ppl 72.3, next-token accuracy 29.2%;
// train sample 4.057) and bert-mini-en validation MLM loss 4.028 / masked accuracy 36.0% (train sample
// 3.866 / 37.9%). Its validation split (2% of the documents of each of seven sources, seed 1234) is not
// shipped, and two of those sources (Debian fortunes, WordNet glosses: ~70% of its tokens) are not here at
// all, so those figures cannot be recomputed on the same text. bench/reference/pretrained_eval.py instead
// fixes a text set from the five shipped sources (59 documents chosen by sha256 order, rule in the script
// and in the JSON), packs it exactly as PRETRAINED.md describes each objective (llama: [CLS] doc [SEP]
// stream cut into 257-token windows, 256 predictions each; bert: [CLS] doc1 [SEP] doc2 [SEP] ... up to 128
// tokens, 15% masking 80/10/10, fixed by the script and written out so no RNG has to match), and records
// transformers' per-window / per-sequence NLL sums and argmax hits in
// test/fixtures/reference/pretrained_eval.json. Here we:
//   1. check our tokenizer gives the same ids on every document and that the windows/sequences are the
//      packing of those ids (so the JSON is self-consistent, not just opaque ids);
//   2. run our models on the same inputs: per-window/per-sequence NLL sums and totals within 1e-4
//      relative, accuracy equal up to one float tie over the whole set;
//   3. check the figures are in a band around PRETRAINED.md's. On this text (mostly training documents of
//      the harder sources: instructions, Shakespeare, movie-review phrases, tweets) PyTorch gives llama
//      loss 4.387 (ppl 80.4, accuracy 26.2%) and bert MLM loss 4.043 / accuracy 29.8% (459 masked
//      tokens, so ±2.1 points of sampling noise). The bands below hold those and PRETRAINED.md's own
//      figures, and a broken model fails them clearly: uniform guessing is ln 8000 = 8.99 nats, and the
//      phase-1 checkpoint was already at val MLM accuracy 19.1% / perplexity 135 (loss 4.9).
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { AutoModelForCausalLM, AutoModelForMaskedLM } from "../../src/models/auto.js";
import { AutoTokenizer } from "../../src/io/tokenizer.js";
import { noGrad } from "../../src/tensor/autograd.js";
import type { Tensor } from "../../src/tensor/tensor.js";
import { FIXTURES } from "./helpers.js";

const BERT = join(FIXTURES, "bert-mini-en");
const LLAMA = join(FIXTURES, "llama-mini-en");
const REF = JSON.parse(readFileSync(join(import.meta.dirname, "..", "fixtures", "reference", "pretrained_eval.json"), "utf8"));
const CLS = 2, SEP = 3, MASK = 4;
const REL = 1e-4;

/** For each listed row of logits [1, T, V]: −log softmax(row)[target] (float64) and whether argmax == target. */
function scoreRows(logits: Tensor, rows: number[], targets: number[]): { nll: number; correct: number } {
  const V = logits.shape[2];
  const data = logits.f32();
  let nll = 0, correct = 0;
  rows.forEach((r, i) => {
    const off = r * V;
    let max = -Infinity, arg = -1;
    for (let v = 0; v < V; v++) if (data[off + v] > max) { max = data[off + v]; arg = v; }
    let sum = 0;
    for (let v = 0; v < V; v++) sum += Math.exp(data[off + v] - max);
    nll += max + Math.log(sum) - data[off + targets[i]];
    if (arg === targets[i]) correct++;
  });
  return { nll, correct };
}

function closeRel(actual: number, expected: number, what: string): void {
  assert.ok(Math.abs(actual - expected) <= REL * Math.abs(expected), `${what}: ${actual} vs PyTorch ${expected} (rel ${REL})`);
}

test("pretrained_eval.json: documents tokenize to the recorded ids, and the windows / sequences are their packing", async () => {
  const tok = await AutoTokenizer.fromPretrained(LLAMA);
  const docs: { source: string; text: string; ids: number[] }[] = REF.documents;
  assert.equal(docs.length, 59);
  for (const d of docs) assert.deepEqual(tok.encode(d.text, { addSpecialTokens: false }), d.ids, `${d.source}: ${d.text.slice(0, 60)}`);

  const stream = docs.flatMap((d) => [CLS, ...d.ids, SEP]);
  const windows: number[][] = REF.llama.windows;
  assert.equal(REF.llama.stream_tokens, stream.length);
  assert.equal(windows.length, Math.floor(stream.length / 257));
  windows.forEach((w, i) => assert.deepEqual(w, stream.slice(i * 257, (i + 1) * 257), `window ${i}`));

  const seqs: { input_ids: number[]; masked_input_ids: number[]; label_positions: number[]; label_ids: number[] }[] = REF.bert.sequences;
  // with the separators and [CLS] removed, the sequences are the documents' ids in order (long ones split at 126)
  const pieces = docs.flatMap((d) => Array.from({ length: Math.ceil(d.ids.length / 126) }, (_, i) => d.ids.slice(i * 126, (i + 1) * 126)));
  const seen: number[][] = [];
  for (const s of seqs) {
    assert.ok(s.input_ids.length <= 128 && s.input_ids[0] === CLS && s.input_ids[s.input_ids.length - 1] === SEP);
    let cur: number[] = [];
    for (const t of s.input_ids.slice(1)) {
      if (t === SEP) { seen.push(cur); cur = []; } else cur.push(t);
    }
    // the masking changes only the label positions, and about 15% of the non-special tokens
    const nonSpecial = s.input_ids.filter((t) => t > MASK).length;
    assert.equal(s.label_positions.length, Math.max(1, Math.round(0.15 * nonSpecial)));
    s.input_ids.forEach((t, i) => {
      if (!s.label_positions.includes(i)) assert.equal(s.masked_input_ids[i], t);
    });
    s.label_positions.forEach((p, i) => assert.equal(s.label_ids[i], s.input_ids[p]));
  }
  assert.deepEqual(seen, pieces);
  const masked = seqs.flatMap((s) => s.label_positions.map((p) => s.masked_input_ids[p]));
  const nMask = masked.filter((t) => t === MASK).length;
  assert.ok(nMask / masked.length > 0.7 && nMask / masked.length < 0.9, `[MASK] share ${nMask}/${masked.length}`);
});

test("llama-mini-en: packed causal-LM loss / perplexity / accuracy match transformers and PRETRAINED.md's range", async (t) => {
  const model = await AutoModelForCausalLM.fromPretrained(LLAMA);
  const windows: number[][] = REF.llama.windows;
  let total = 0, correct = 0;
  windows.forEach((w, i) => {
    const logits = noGrad(() => model.forward({ inputIds: [w.slice(0, 256)] }).logits!);
    assert.deepEqual(logits.shape, [1, 256, 8000]);
    const r = scoreRows(logits, Array.from({ length: 256 }, (_, t) => t), w.slice(1));
    closeRel(r.nll, REF.llama.window_nll_sum[i], `window ${i} NLL sum`);
    assert.ok(Math.abs(r.correct - REF.llama.window_correct[i]) <= 1, `window ${i}: ${r.correct} correct vs ${REF.llama.window_correct[i]}`);
    total += r.nll;
    correct += r.correct;
  });
  const n = windows.length * 256;
  assert.equal(n, REF.llama.predictions);
  closeRel(total, REF.llama.total_nll, "total NLL");
  assert.ok(Math.abs(correct - REF.llama.correct) <= 1, `${correct} correct vs PyTorch ${REF.llama.correct} of ${n}`);
  const loss = total / n, ppl = Math.exp(loss), acc = correct / n;
  closeRel(ppl, REF.llama.perplexity, "perplexity");
  t.diagnostic(`llama: ${n} predictions, loss ${loss.toFixed(5)} (PyTorch ${REF.llama.loss.toFixed(5)}), ppl ${ppl.toFixed(3)}, accuracy ${correct}/${n} (PyTorch ${REF.llama.correct})`);
  // PRETRAINED.md: val 4.281 (ppl 72.3, acc 29.2%), train sample 4.057; here 4.387 (ppl 80.4, acc 26.2%)
  assert.ok(loss > 3.9 && loss < 4.8, `loss ${loss}`);
  assert.ok(ppl > 49 && ppl < 122, `perplexity ${ppl}`);
  assert.ok(acc > 0.22 && acc < 0.34, `next-token accuracy ${acc}`);
});

test("bert-mini-en: fixed-mask MLM loss / accuracy match transformers and PRETRAINED.md's range", async (t) => {
  const model = await AutoModelForMaskedLM.fromPretrained(BERT, { log: () => {} });
  const seqs: { masked_input_ids: number[]; label_positions: number[]; label_ids: number[] }[] = REF.bert.sequences;
  let total = 0, correct = 0, n = 0;
  seqs.forEach((s, i) => {
    const ids = s.masked_input_ids;
    const logits = noGrad(() => model.forward({ inputIds: [ids], tokenTypeIds: [ids.map(() => 0)] }).logits!);
    const r = scoreRows(logits, s.label_positions, s.label_ids);
    closeRel(r.nll, REF.bert.sequence_nll_sum[i], `sequence ${i} NLL sum`);
    assert.ok(Math.abs(r.correct - REF.bert.sequence_correct[i]) <= 1, `sequence ${i}: ${r.correct} correct vs ${REF.bert.sequence_correct[i]}`);
    total += r.nll;
    correct += r.correct;
    n += s.label_positions.length;
  });
  assert.equal(n, REF.bert.masked_tokens);
  closeRel(total, REF.bert.total_nll, "total NLL");
  assert.ok(Math.abs(correct - REF.bert.correct) <= 1, `${correct} correct vs PyTorch ${REF.bert.correct} of ${n}`);
  const loss = total / n, acc = correct / n;
  t.diagnostic(`bert: ${n} masked tokens, loss ${loss.toFixed(5)} (PyTorch ${REF.bert.loss.toFixed(5)}), accuracy ${correct}/${n} (PyTorch ${REF.bert.correct})`);
  // PRETRAINED.md: val 4.028 / 36.0%, train sample 3.866 / 37.9%; here 4.043 / 29.8% (see the header)
  assert.ok(loss > 3.6 && loss < 4.6, `MLM loss ${loss}`);
  assert.ok(acc > 0.25 && acc < 0.42, `masked-token accuracy ${acc}`);
});
