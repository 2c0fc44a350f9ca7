import { test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { AutoTokenizer } from "../../src/io/tokenizer.js";
import { Dataset, IterableDataset, readConll, readCsv, readJson, readJsonl } from "../../src/data/datasets.js";
import { buildLabel2Id, encodeLabel, preprocessSeqCls } from "../../src/data/tasks/seq_cls.js";
import { alignLabelsWithTokens, bioLabelList, bToIMap, preprocessTokenCls, tokenPredictionsToTags } from "../../src/data/tasks/token_cls.js";
import { postprocessQaPredictions, prepareQaEvalFeatures, prepareQaTrainFeatures } from "../../src/data/tasks/qa.js";
import { DEFAULT_TEMPLATE, encodeInstruction, packBlocks, packTexts, preprocessInstructions } from "../../src/data/tasks/causal_lm.js";
import { MultiTaskSampler, taskProbabilities } from "../../src/data/tasks/multitask.js";
import { squadScores, seqevalScores } from "../../src/data/metrics.js";
import { ConfigError } from "../../src/tensor/errors.js";
import type { TaskTokenizer } from "../../src/data/tasks/types.js";

const FIX = new URL("../../../shared/fixtures/", import.meta.url).pathname;
const tok = await AutoTokenizer.fromPretrained(join(FIX, "models/bert-mini-en"));
const llamaTok = await AutoTokenizer.fromPretrained(join(FIX, "models/llama-mini-en"));

// ------------------------------------------------------------------ sequence classification

test("seq_cls: SST-2 sentences → [CLS] … [SEP] ids with integer labels", () => {
  const ds = readCsv(join(FIX, "sst2/dev.tsv")).select([0, 1, 2, 3]);
  const f = preprocessSeqCls(ds, tok, { maxLength: 64 });
  assert.equal(f.length, 4);
  // tokenizer_examples.json: "it 's a charming and often affecting journey ." → these ids
  assert.deepEqual(f.get(0).inputIds, [2, 1015, 11, 61, 43, 5797, 1004, 1405, 5876, 3401, 18, 3]);
  assert.deepEqual(f.toArray().map((r) => r.labels), ds.column("label"));
  assert.ok(f.toArray().every((r) => r.attentionMask!.every((m) => m === 1)));
  const short = preprocessSeqCls(ds, tok, { maxLength: 5 });
  assert.ok(short.toArray().every((r) => r.inputIds.length <= 5 && r.inputIds[r.inputIds.length - 1] === 3));
});

test("seq_cls: STS-B pairs with regression labels; type ids mark the second sentence", () => {
  const ds = readCsv(join(FIX, "stsb/dev.tsv")).select([0, 1]);
  const f = preprocessSeqCls(ds, tok, { textColumn: "sentence1", textPairColumn: "sentence2", labelColumn: "score", problemType: "regression" });
  assert.equal(f.get(0).labels, 5);
  const r = f.get(0);
  const sep = r.inputIds.indexOf(3);
  assert.ok(sep > 0 && r.tokenTypeIds!.slice(0, sep + 1).every((t) => t === 0));
  assert.ok(r.tokenTypeIds!.slice(sep + 1).every((t) => t === 1));
  assert.equal(tok.decode(r.inputIds, { skipSpecialTokens: true }), "a man with a hard hat is dancing. a man wearing a hard hat is dancing.");
});

test("seq_cls: label2id for string labels, multi-label multi-hot, errors", () => {
  assert.deepEqual(buildLabel2Id(["neg", "pos", "neu", "pos"]), { neg: 0, neu: 1, pos: 2 });
  assert.deepEqual(buildLabel2Id([10, 2, 2]), { 2: 0, 10: 1 });
  const ds = Dataset.fromRows([{ text: "good film", label: "pos" }, { text: "bad film", label: "neg" }]);
  assert.deepEqual(preprocessSeqCls(ds, tok).toArray().map((r) => r.labels), [1, 0]);
  const l2i = { sports: 0, politics: 1, tech: 2 };
  assert.deepEqual(encodeLabel(["tech", "sports"], "multi_label_classification", l2i, null, "x"), [1, 0, 1]);
  assert.deepEqual(encodeLabel([0, 1, 1], "multi_label_classification", null, 3, "x"), [0, 1, 1]);
  assert.throws(() => encodeLabel("art", "single_label_classification", l2i, null, "x"), ConfigError);
  assert.throws(() => encodeLabel("x", "regression", null, null, "x"), ConfigError);
});

// ------------------------------------------------------------------ token classification

test("token_cls: first sub-token alignment with a fake tokenizer (wordIds only)", () => {
  // words: ["Foo", "barbaz", "qux"] → tokens [CLS] foo bar ##baz qux [SEP]
  assert.deepEqual(alignLabelsWithTokens([null, 0, 1, 1, 2, null], [3, 1, 0]), [-100, 3, 1, -100, 0, -100]);
  const labels = ["O", "B-PER", "I-PER"];
  assert.deepEqual(bToIMap(labels), [0, 2, 2]);
  assert.deepEqual(alignLabelsWithTokens([null, 0, 0, 0, 1, null], [1, 0], { labelAllTokens: true, bToI: bToIMap(labels) }), [-100, 1, 2, 2, 0, -100]);
  const fake: TaskTokenizer = {
    padTokenId: 0,
    call: (texts) => {
      const words = (texts as string[][])[0];
      const ids: number[] = [101], wordIds: (number | null)[] = [null];
      words.forEach((w, i) => { for (let k = 0; k < Math.ceil(w.length / 3); k++) { ids.push(1000 + i * 10 + k); wordIds.push(i); } });
      ids.push(102); wordIds.push(null);
      return { inputIds: [ids], attentionMask: [ids.map(() => 1)], tokenTypeIds: [ids.map(() => 0)], wordIds: [wordIds] };
    },
    encode: () => [], encodeWithOffsets: () => ({ ids: [], offsets: [], typeIds: [], sequenceIds: [] }), decode: () => "",
  };
  const ds = Dataset.fromRows([{ tokens: ["Jean", "Valjean", "sings"], tags: ["B-PER", "I-PER", "O"] }]);
  const { dataset, labelList } = preprocessTokenCls(ds, fake);
  assert.deepEqual(labelList, ["O", "B-PER", "I-PER"]);
  // "Jean" → 2 tokens, "Valjean" → 3, "sings" → 2
  assert.deepEqual(dataset.get(0).labels, [-100, 1, -100, 2, -100, -100, 0, -100, -100]);
});

test("token_cls: WNUT-17 sentences with the bert-mini tokenizer — one label per word on its first sub-token", () => {
  const dev = readConll(join(FIX, "ner/wnut17_dev.conll")).select([0, 1, 2, 3, 4, 5, 6, 7]);
  const train = readConll(join(FIX, "ner/wnut17_train.conll"));
  const labelList = bioLabelList(train.column("tags"));
  assert.equal(labelList.length, 13);
  assert.equal(labelList[0], "O");
  const { dataset } = preprocessTokenCls(dev, tok, { labelList });
  let multiPiece = 0;
  dataset.toArray().forEach((f, s) => {
    const words: string[] = dev.get(s).tokens, tags: string[] = dev.get(s).tags;
    const wordIds = f.wordIds as (number | null)[];
    const labels = f.labels as number[];
    assert.equal(labels.length, f.inputIds.length);
    for (let w = 0; w < words.length; w++) {
      const pos = wordIds.map((x, t) => (x === w ? t : -1)).filter((t) => t >= 0);
      if (pos.length === 0) continue; // a word the normalizer drops entirely (e.g. a lone control char)
      assert.equal(labels[pos[0]], labelList.indexOf(tags[w]), `sentence ${s} word ${w} (${words[w]})`);
      for (const t of pos.slice(1)) assert.equal(labels[t], -100);
      if (pos.length > 1) multiPiece++;
    }
    assert.ok(wordIds.every((x, t) => x !== null || labels[t] === -100));
  });
  assert.ok(multiPiece > 5, `expected words split into several pieces, saw ${multiPiece}`);
  // "Redondo" (B-location) in dev sentence 1: its first piece carries B-location
  const f1 = dataset.get(1);
  const wi = (f1.wordIds as (number | null)[]).indexOf(6);
  assert.equal(labelList[(f1.labels as number[])[wi]], "B-location");
  // gold labels as predictions → perfect entity F1 through tokenPredictionsToTags + seqeval
  const lab = dataset.toArray().map((f) => f.labels as number[]);
  const { yTrue, yPred } = tokenPredictionsToTags(lab.map((l) => l.map((x) => (x < 0 ? 0 : x))), lab, labelList);
  assert.deepEqual(yTrue.map((y) => y.length), dev.toArray().map((r) => r.tokens.length));
  assert.equal(seqevalScores(yTrue, yPred).f1, 1);
});

// ------------------------------------------------------------------ question answering

const xquad = readJson(join(FIX, "qa/xquad.en.json")).select([...Array(24).keys()]);

test("qa: windows over long XQuAD contexts; gold start/end tokens map back to the answer text", () => {
  const feats = prepareQaTrainFeatures(xquad, tok, { maxLength: 96, docStride: 32 });
  assert.ok(feats.length > xquad.length * 2, `long contexts should give several windows (${feats.length} features)`);
  const found = new Set<number>();
  for (const f of feats) {
    assert.ok(f.inputIds.length <= 96);
    assert.equal(f.inputIds[0], 2);
    const ex = xquad.get(f.exampleIndex);
    const gold: string = ex.answers.text[0];
    if (f.startPositions === f.clsIndex) {
      assert.equal(f.endPositions, f.clsIndex);
      continue;
    }
    found.add(f.exampleIndex);
    const s = f.startPositions!, e = f.endPositions!;
    assert.ok(s <= e);
    // offsets: the span's characters are exactly the gold answer
    assert.equal(ex.context.slice(f.offsetMapping[s]![0], f.offsetMapping[e]![1]), gold);
    // decoding the tokens gives the (lower-cased, uncased-model) answer, up to spacing around punctuation
    const dec = tok.decode(f.inputIds.slice(s, e + 1)).replace(/\s+/g, "");
    assert.equal(dec, gold.toLowerCase().normalize("NFD").replace(/[\u0300-\u036f]/g, "").replace(/\s+/g, ""));
  }
  assert.equal(found.size, xquad.length, "every answer lies inside at least one window");
  // consecutive windows of one example overlap by docStride context tokens
  const ex0 = feats.filter((f) => f.exampleIndex === 0).toArray();
  assert.ok(ex0.length >= 2);
  const ctx = (f: (typeof ex0)[number]) => f.inputIds.filter((_, t) => f.offsetMapping[t] !== null);
  assert.deepEqual(ctx(ex0[0]).slice(-32), ctx(ex0[1]).slice(0, 32));
  // questions: type ids 0 on the question, 1 on the context
  assert.ok(ex0[0].tokenTypeIds.every((t, k) => (ex0[0].offsetMapping[k] !== null ? t === 1 : true)));
});

test("qa: postprocessing logits that peak at the gold span recovers every answer (EM 100)", () => {
  const train = prepareQaTrainFeatures(xquad, tok, { maxLength: 96, docStride: 32 });
  const evalF = prepareQaEvalFeatures(xquad, tok, { maxLength: 96, docStride: 32 });
  assert.equal(evalF.length, train.length);
  const start: number[][] = [], end: number[][] = [];
  train.toArray().forEach((f) => {
    const s = new Array(f.inputIds.length).fill(0), e = new Array(f.inputIds.length).fill(0);
    if (f.startPositions !== f.clsIndex) { s[f.startPositions!] = 8; e[f.endPositions!] = 8; }
    else { s[f.clsIndex] = 3; e[f.clsIndex] = 3; } // CLS is never a valid span in v1
    // a distractor: high logits on a question token (not context) must be ignored
    s[2] += 20; e[2] += 20;
    start.push(s); end.push(e);
  });
  const { predictions, nbest } = postprocessQaPredictions(xquad, evalF, start, end, { nBestSize: 20, maxAnswerLength: 30 });
  for (const ex of xquad) assert.equal(predictions[ex.id], ex.answers.text[0]);
  const refs = xquad.toArray().map((r) => ({ id: r.id, answers: r.answers.text }));
  assert.deepEqual(squadScores(predictions, refs), { exactMatch: 100, f1: 100 });
  assert.ok(nbest[xquad.get(0).id].length > 1);
  // maxAnswerLength shorter than a gold span → that span is no longer chosen
  const spanLen = (i: number) => Math.max(...train.toArray().filter((f) => f.exampleIndex === i && f.startPositions !== f.clsIndex).map((f) => f.endPositions! - f.startPositions! + 1));
  const lens = xquad.toArray().map((_, i) => spanLen(i));
  const longIdx = lens.indexOf(Math.max(...lens));
  assert.ok(lens[longIdx] >= 2);
  const id = xquad.get(longIdx).id;
  const short = postprocessQaPredictions(xquad, evalF, start, end, { maxAnswerLength: lens[longIdx] - 1 });
  assert.notEqual(short.predictions[id], xquad.get(longIdx).answers.text[0]);
  // SQuAD v2: a dominant CLS score gives the empty answer
  const s2 = start.map((r) => r.map((v, t) => (t === 0 ? 50 : v)));
  const v2 = postprocessQaPredictions(xquad, evalF, s2, end, { versionTwoWithNegative: true });
  assert.equal(v2.predictions[xquad.get(0).id], "");
});

test("qa: unanswerable rows and out-of-window answers get the CLS index; bad stride is an error", () => {
  const row = { id: "u1", question: "What?", context: "Short context here.", answers: { text: [], answerStart: [] } };
  const f = prepareQaTrainFeatures(Dataset.fromRows([row]), tok, { maxLength: 32, docStride: 8 });
  assert.equal(f.length, 1);
  assert.equal(f.get(0).startPositions, 0);
  assert.equal(f.get(0).endPositions, 0);
  assert.throws(() => prepareQaTrainFeatures(xquad.select([0]), tok, { maxLength: 32, docStride: 30 }), ConfigError);
});

// ------------------------------------------------------------------ causal LM

test("causal_lm: tinyshakespeare packed into blocks equals the concatenated token stream", () => {
  const lines = readCsv(join(FIX, "lm/tinyshakespeare.txt"), { delimiter: "\u0001", quote: null, header: false, columnNames: ["text"], inferTypes: false })
    .filter((r) => r.text.length > 0).select([...Array(40).keys()]);
  const blocks = packTexts(lines, llamaTok, { blockSize: 32 });
  const stream = lines.toArray().flatMap((r) => [...llamaTok.encode(r.text, { addSpecialTokens: false }), llamaTok.eosTokenId!]);
  assert.equal(blocks.length, Math.floor(stream.length / 32));
  assert.deepEqual(blocks.toArray().flatMap((b) => b.inputIds), stream.slice(0, blocks.length * 32));
  for (const b of blocks) {
    assert.equal(b.inputIds.length, 32);
    assert.deepEqual(b.labels, b.inputIds);
  }
  // the streaming packer yields the same blocks lazily
  assert.deepEqual([...packBlocks(lines.column("text"), llamaTok, { blockSize: 32 })].map((b) => b.inputIds), blocks.toArray().map((b) => b.inputIds));
});

test("causal_lm: alpaca rows with the default template — loss only on the response", () => {
  const rows = readJsonl(join(FIX, "lm/alpaca_libre_tasks_v1.jsonl")).filter((r) => r.status === "ok").select([0, 1, 2, 3, 4, 5]);
  assert.equal(llamaTok.chatTemplate, null);
  for (const row of rows) {
    const f = encodeInstruction(llamaTok, row);
    const labels = f.labels as number[];
    assert.equal(f.inputIds[0], llamaTok.bosTokenId);
    const first = labels.findIndex((l) => l !== -100);
    assert.ok(labels.slice(first).every((l, k) => l === f.inputIds[first + k]), "labels are the ids after the prompt");
    const prompt = llamaTok.decode(f.inputIds.slice(1, first));
    assert.ok(prompt.startsWith("# # # instruction :"), prompt);
    assert.ok(prompt.endsWith("# # # response :"), prompt);
    const resp = labels.slice(first);
    assert.equal(resp[resp.length - 1], llamaTok.eosTokenId);
    assert.deepEqual(resp.slice(0, -1), llamaTok.encode(row.output, { addSpecialTokens: false }));
  }
  assert.ok(DEFAULT_TEMPLATE.response.includes("### Response:"));
  const withInput = encodeInstruction(llamaTok, { instruction: "Translate.", input: "bonjour", output: "hello" });
  assert.ok(llamaTok.decode(withInput.inputIds).includes("# # # input : bonjour"));
  // maxLength cutting away the whole response drops the row
  assert.equal(preprocessInstructions(rows.select([0]), llamaTok, { maxLength: 4 }).length, 0);
});

test("causal_lm: chat rendered with a tiny custom template; labels cover exactly the assistant turns", () => {
  const template = "{% for m in messages %}<{{ m.role }}>{{ m.content }}\n{% endfor %}{% if add_generation_prompt %}<assistant>{% endif %}";
  const messages = [
    { role: "system", content: "Be brief." },
    { role: "user", content: "Name a colour." },
    { role: "assistant", content: "Blue." },
    { role: "user", content: "Another one?" },
    { role: "assistant", content: "Green." },
  ];
  const f = encodeInstruction(tok, { messages }, { chatTemplate: template });
  const labels = f.labels as number[];
  // labelled runs decode to the assistant contents (plus the template's "\n", which has no token)
  const runs: number[][] = [];
  labels.forEach((l, t) => {
    if (l === -100) return;
    if (t > 0 && labels[t - 1] !== -100) runs[runs.length - 1].push(l);
    else runs.push([l]);
  });
  assert.deepEqual(runs.map((r) => tok.decode(r)), ["blue.", "green."]);
  assert.equal(tok.decode(f.inputIds), "< system > be brief. < user > name a colour. < assistant > blue. < user > another one? < assistant > green.");
  // the default template is used when asked (or when the tokenizer has none)
  const d = encodeInstruction(tok, { messages }, { useDefaultTemplate: true });
  assert.ok(tok.decode(d.inputIds).includes("# # # system : be brief."));
});

// ------------------------------------------------------------------ multi-task

test("multitask: temperature sampling probabilities; seeded single-task batches with task ids", () => {
  const p1 = taskProbabilities([100, 400], "proportional");
  assert.deepEqual(p1, [0.2, 0.8]);
  const p2 = taskProbabilities([100, 400], 2); // √100 : √400 = 10 : 20
  assert.ok(Math.abs(p2[0] - 1 / 3) < 1e-12 && Math.abs(p2[1] - 2 / 3) < 1e-12);
  assert.deepEqual(taskProbabilities([100, 400], "uniform"), [0.5, 0.5]);
  const a = Dataset.fromRows(Array.from({ length: 100 }, (_, i) => ({ task: "a", i })));
  const b = Dataset.fromRows(Array.from({ length: 400 }, (_, i) => ({ task: "b", i })));
  const sampler = new MultiTaskSampler([{ name: "a", dataset: a }, { name: "b", dataset: b }], { batchSize: 4, seed: 3, numBatches: 2000 });
  const batches = [...sampler];
  assert.equal(batches.length, 2000);
  for (const bt of batches.slice(0, 50)) assert.ok(bt.rows.every((r) => r.task === bt.task && bt.task === ["a", "b"][bt.taskId]));
  const fracA = batches.filter((x) => x.taskId === 0).length / batches.length;
  assert.ok(Math.abs(fracA - 0.2) < 0.03, `task a fraction ${fracA}`);
  assert.deepEqual([...sampler].map((x) => x.indices), batches.map((x) => x.indices), "seeded");
  // within a task, an epoch of its rows visits each row once before repeating
  const aIdx = batches.filter((x) => x.taskId === 0).flatMap((x) => x.indices).slice(0, 100);
  assert.equal(new Set(aIdx).size, 100);
  assert.throws(() => taskProbabilities([0, 3]), ConfigError);
});

test("causal_lm: packing streams lazily from a line reader (a file need not fit in memory)", () => {
  const path = join(FIX, "lm/tinyshakespeare.txt");
  let read = 0;
  const lines = IterableDataset.fromTextLines(path).map((r) => { read++; return r.text as string; });
  const it = packBlocks(lines, llamaTok, { blockSize: 64 });
  const first = [it.next().value, it.next().value, it.next().value];
  assert.ok(first.every((b) => b && b.inputIds.length === 64));
  assert.ok(read < 100, `only the lines needed for 3 blocks were read (${read})`);
  // the same blocks as packing the first lines in memory
  const mem = readCsv(path, { delimiter: "\u0001", quote: null, header: false, columnNames: ["text"], inferTypes: false }).filter((r) => r.text.length > 0).select([...Array(read).keys()]);
  assert.deepEqual(packTexts(mem, llamaTok, { blockSize: 64 }).toArray().slice(0, 3).map((b) => b.inputIds), first.map((b) => b!.inputIds));
});
