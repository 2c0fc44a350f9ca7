// SentencePiece: our model-file reader, normalizer and unigram/BPE encoders against the sentencepiece
// package (0.2.x) on two tiny models it trained on the en-de corpus (scripts/fixtures/make_spm_fixtures.py):
// ids, pieces and decode(ids) equal for ~50 sentences, unicode and whitespace cases included.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { SentencePieceProcessor } from "../../src/io/sentencepiece.js";
import { FormatError } from "../../src/tensor/errors.js";

const DIR = join(import.meta.dirname, "..", "fixtures", "spm");
const expected = JSON.parse(readFileSync(join(DIR, "expected.json"), "utf8"));

for (const name of ["unigram", "bpe"]) {
  test(`sentencepiece ${name}: ids, pieces and decode equal the sentencepiece package on ${expected.models[name].cases.length} sentences`, () => {
    const sp = SentencePieceProcessor.fromBytes(readFileSync(join(DIR, `${name}.model`)), `${name}.model`);
    assert.equal(sp.pieceSize, expected.models[name].vocab_size);
    assert.equal(sp.model.trainer.modelType, name);
    const bad: string[] = [];
    for (const c of expected.models[name].cases) {
      const enc = sp.encodeWithOffsets(c.text);
      try {
        assert.deepEqual(enc.pieces, c.pieces);
        assert.deepEqual(enc.ids, c.ids);
        assert.equal(sp.decode(enc.ids), c.decoded);
      } catch {
        bad.push(`${JSON.stringify(c.text)}: ours ${JSON.stringify(enc.pieces)} ${JSON.stringify(enc.ids)} ${JSON.stringify(sp.decode(enc.ids))} vs ${JSON.stringify(c.pieces)} ${JSON.stringify(c.ids)} ${JSON.stringify(c.decoded)}`);
      }
    }
    assert.deepEqual(bad, []);
  });
}

test("sentencepiece offsets: each piece maps back to its span of the input", () => {
  const sp = SentencePieceProcessor.fromBytes(readFileSync(join(DIR, "unigram.model")), "unigram.model");
  const text = "  Datei  öffnen ﬁle";
  const enc = sp.encodeWithOffsets(text);
  assert.deepEqual(enc.pieces, ["▁", "Datei", "▁", "ö", "f", "f", "n", "en", "▁file"]);
  // the dummy prefix is empty at the first character; a space piece spans the spaces it replaced; NFKC's "ﬁ" → "fi" keeps its one character
  assert.deepEqual(enc.offsets.map(([a, b]) => text.slice(a, b)), ["", "Datei", "  ", "ö", "f", "f", "n", "en", " ﬁle"]);
  const pieces = enc.offsets.map(([a, b]) => text.slice(a, b).trim());
  assert.equal(pieces.join(""), "Dateiöffnenﬁle");
});

test("sentencepiece model reader: truncated or foreign bytes are FormatErrors naming the file", () => {
  const bytes = readFileSync(join(DIR, "bpe.model"));
  assert.throws(() => SentencePieceProcessor.fromBytes(bytes.subarray(0, bytes.length - 7), "cut.model"), (e: Error) => e instanceof FormatError && /cut\.model/.test(e.message));
  assert.throws(() => SentencePieceProcessor.fromBytes(new TextEncoder().encode("{\"not\": \"protobuf\"}"), "x.spm"), (e: Error) => e instanceof FormatError && /x\.spm/.test(e.message));
  assert.throws(() => SentencePieceProcessor.fromBytes(new Uint8Array(0), "empty.spm"), (e: Error) => e instanceof FormatError && /empty\.spm: no pieces/.test(e.message));
});
