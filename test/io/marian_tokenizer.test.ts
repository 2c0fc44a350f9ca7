// MarianTokenizer (source.spm / target.spm / vocab.json) against transformers' MarianTokenizer on the
// fixture folder of scripts/fixtures/make_spm_fixtures.py: input_ids (source model + </s>), labels
// (text_target: the target model), decode with skip_special_tokens; loaded through AutoTokenizer.
import { test } from "node:test";
import assert from "node:assert/strict";
import { copyFileSync, cpSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { AutoTokenizer } from "../../src/io/tokenizer.js";
import { MarianTokenizer } from "../../src/io/marian_tokenizer.js";
import { FormatError } from "../../src/tensor/errors.js";
import { tmp } from "../peft/helpers.js";
import { Dataset } from "../../src/data/datasets.js";
import { getTask } from "../../src/data/tasks/registry.js";
import "../../src/data/tasks/all.js";

const SPM = join(import.meta.dirname, "..", "fixtures", "spm");
const expected = JSON.parse(readFileSync(join(SPM, "expected.json"), "utf8"));

/** The fixture's Marian folder with its two models (committed once, as unigram.model / bpe.model). */
function marianDir(): string {
  const dir = join(tmp("peft-marian-"), "marian");
  cpSync(join(SPM, "marian"), dir, { recursive: true });
  copyFileSync(join(SPM, "unigram.model"), join(dir, "source.spm"));
  copyFileSync(join(SPM, "bpe.model"), join(dir, "target.spm"));
  return dir;
}

test(`MarianTokenizer via AutoTokenizer: input_ids, labels and decode equal transformers' on ${expected.marian.length} sentences`, async () => {
  const tok = await AutoTokenizer.fromPretrained(marianDir());
  assert.ok(tok instanceof MarianTokenizer);
  const m = tok as MarianTokenizer;
  assert.deepEqual([m.eosTokenId, m.padTokenId, m.unkTokenId, m.vocabSize], [expected.marian_ids.eos, expected.marian_ids.pad, expected.marian_ids.unk, expected.marian_ids.vocab_size]);
  const bad: string[] = [];
  for (const c of expected.marian) {
    const ids = m.encode(c.text), labels = m.targetTokenizer.encode(c.text);
    const got = { ids, labels, decoded: m.decode(ids, { skipSpecialTokens: true }), decodedLabels: m.targetTokenizer.decode(labels, { skipSpecialTokens: true }) };
    const want = { ids: c.input_ids, labels: c.labels, decoded: c.decoded, decodedLabels: c.decoded_labels };
    try {
      assert.deepEqual(got, want);
    } catch {
      bad.push(`${JSON.stringify(c.text)}: ours ${JSON.stringify(got)} vs ${JSON.stringify(want)}`);
    }
  }
  assert.deepEqual(bad, []);
});

test("MarianTokenizer: batching, truncation (EOS kept) and padding come from the base class; special tokens decode as text", async () => {
  const m = (await AutoTokenizer.fromPretrained(marianDir())) as MarianTokenizer;
  const short = m.encode("Datei");
  assert.equal(short.length, 3);
  const b = m.call(["Datei", "Open the file in a new window"], { padding: true, truncation: true, maxLength: 5 });
  assert.deepEqual(b.inputIds[1], [...m.encode("Open the file in a new window").slice(0, 4), m.eosTokenId]);
  assert.deepEqual(b.inputIds[0], [...short, m.padTokenId, m.padTokenId]);
  assert.deepEqual(b.attentionMask[0], [1, 1, 1, 0, 0]);
  assert.equal(m.decode(m.encode("Datei öffnen")), "Datei öffnen</s>");
});

test("MarianTokenizer: a folder without target.spm or with a broken vocab.json is a FormatError naming the file", () => {
  const dir = marianDir();
  rmSync(join(dir, "target.spm"));
  assert.throws(() => MarianTokenizer.fromDir(dir), (e: Error) => e instanceof FormatError && /no target\.spm/.test(e.message));
  const dir2 = marianDir();
  copyFileSync(join(SPM, "marian", "tokenizer_config.json"), join(dir2, "vocab.json"));
  assert.throws(() => MarianTokenizer.fromDir(dir2), (e: Error) => e instanceof FormatError && /vocab\.json/.test(e.message));
});

test("translation task with a MarianTokenizer: sources by the source model, labels by the target model (HF's text_target), decoded with it", async () => {
  const m = (await AutoTokenizer.fromPretrained(marianDir())) as MarianTokenizer;
  const rows = new Dataset([{ translation: { en: "Open the file", de: "Datei öffnen" } }]);
  const p = getTask("translation").prepare({ train: rows }, m, { sourceLang: "en", targetLang: "de" });
  const f = p.trainDataset!.toArray()[0];
  assert.deepEqual(f.inputIds, m.encode("Open the file"));
  assert.deepEqual(f.labels, m.targetTokenizer.encode("Datei öffnen"));
  assert.notDeepEqual(f.labels, m.encode("Datei öffnen"), "the two models segment differently");
  const metrics = p.computeMetrics!({ predictions: [f.labels as number[]], labelIds: [f.labels as number[]] });
  assert.equal(metrics.chrf, 100);
});
