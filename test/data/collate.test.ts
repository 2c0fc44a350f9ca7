import { test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { batchIndices, DataCollatorForCausalLM, DataCollatorForTokenClassification, DataCollatorWithPadding } from "../../src/data/collate.js";
import { AutoTokenizer } from "../../src/io/tokenizer.js";
import { ConfigError } from "../../src/tensor/errors.js";

const FIX = new URL("../../../shared/fixtures/", import.meta.url).pathname;

test("DataCollatorWithPadding: pads ids with the pad id, masks with 0, stacks labels", () => {
  const c = new DataCollatorWithPadding({ padTokenId: 0 });
  const b = c.call([
    { inputIds: [2, 7, 3], tokenTypeIds: [0, 0, 0], labels: 1 },
    { inputIds: [2, 9, 9, 9, 3], tokenTypeIds: [0, 0, 0, 1, 1], labels: 0 },
  ]);
  assert.deepEqual(b.inputIds, [[2, 7, 3, 0, 0], [2, 9, 9, 9, 3]]);
  assert.deepEqual(b.attentionMask, [[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]]);
  assert.deepEqual(b.tokenTypeIds, [[0, 0, 0, 0, 0], [0, 0, 0, 1, 1]]);
  assert.deepEqual(b.labels, [1, 0]);
  const m = new DataCollatorWithPadding({ padTokenId: 5, paddingSide: "left", padToMultipleOf: 4 }).call([{ inputIds: [1] }, { inputIds: [1, 2] }]);
  assert.deepEqual(m.inputIds, [[5, 5, 5, 1], [5, 5, 1, 2]]);
  assert.deepEqual(m.attentionMask, [[0, 0, 0, 1], [0, 0, 1, 1]]);
  assert.throws(() => new DataCollatorWithPadding({ padTokenId: null }).call([{ inputIds: [1] }, { inputIds: [1, 2] }]), ConfigError);
});

test("token classification collator pads labels with −100; causal LM collator masks padding in labels", async () => {
  const tok = await AutoTokenizer.fromPretrained(join(FIX, "models/bert-mini-en"));
  const tc = new DataCollatorForTokenClassification(tok).call([
    { inputIds: [2, 10, 3], labels: [-100, 4, -100] },
    { inputIds: [2, 10, 11, 3], labels: [-100, 1, 2, -100] },
  ]);
  assert.deepEqual(tc.inputIds, [[2, 10, 3, tok.padTokenId!], [2, 10, 11, 3]]);
  assert.deepEqual(tc.labels, [[-100, 4, -100, -100], [-100, 1, 2, -100]]);
  const lm = new DataCollatorForCausalLM({ padTokenId: 0 }).call([
    { inputIds: [5, 6, 7] },
    { inputIds: [5, 6, 7, 8, 9], labels: [-100, -100, 7, 8, 9] },
  ]);
  assert.deepEqual(lm.labels, [[5, 6, 7, -100, -100], [-100, -100, 7, 8, 9]]);
  assert.deepEqual(lm.attentionMask, [[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]]);
  assert.throws(() => new DataCollatorForTokenClassification({ padTokenId: 0 }).call([{ inputIds: [1, 2], labels: [1] }]), ConfigError);
});

test("batchIndices: in order, with dropLast and a given order", () => {
  assert.deepEqual(batchIndices(5, 2), [[0, 1], [2, 3], [4]]);
  assert.deepEqual(batchIndices(5, 2, { dropLast: true }), [[0, 1], [2, 3]]);
  assert.deepEqual(batchIndices(3, 2, { order: [2, 0, 1] }), [[2, 0], [1]]);
});
