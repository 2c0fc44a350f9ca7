import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  Dataset, IterableDataset, iterateJsonl, iterateJsonlSync, loadDataset, parseCsv, readConll, readCsv, readJson,
  readJsonl, readLinesSync, trainTestSplit,
} from "../../src/data/datasets.js";
import { ConfigError, FormatError } from "../../src/tensor/errors.js";

const FIX = new URL("../../../shared/fixtures/", import.meta.url).pathname;
const tmp = mkdtempSync(join(tmpdir(), "peft-ts-data-"));

test("SST-2 dev.tsv: 872 rows, header sentence/label, integer labels (444 positive)", async () => {
  const ds = await loadDataset(join(FIX, "sst2/dev.tsv"));
  assert.equal(ds.length, 872);
  assert.deepEqual(ds.columns, ["sentence", "label"]);
  const labels = ds.column("label");
  assert.ok(labels.every((l) => l === 0 || l === 1));
  assert.equal(labels.filter((l) => l === 1).length, 444);
  assert.equal(ds.get(0).sentence, "it 's a charming and often affecting journey . ");
  assert.equal(ds.get(0).label, 1);
});

test("STS-B dev.tsv: 1500 rows of 10 fields; fields starting with a literal quote are kept (no quoting in TSV)", () => {
  const ds = readCsv(join(FIX, "stsb/dev.tsv"));
  assert.equal(ds.length, 1500);
  assert.equal(ds.columns.length, 10);
  const scores = ds.column("score") as number[];
  assert.ok(scores.every((s) => typeof s === "number" && s >= 0 && s <= 5));
  const row = ds.toArray().find((r) => r.index === 698)!;
  assert.equal(row.sentence2, "\"I had mainly been\" is fine, in the context you're using it.");
  assert.equal(row.score, 0.6);
});

test("CSV parser: quoted delimiters, newlines, doubled quotes, CRLF, BOM; errors name the line", () => {
  const text = "\ufeffa,b,c\r\n1,\"x, y\",\"he said \"\"hi\"\"\"\r\n2,\"multi\nline\",\r\n";
  assert.deepEqual(parseCsv(text), [["a", "b", "c"], ["1", "x, y", "he said \"hi\""], ["2", "multi\nline", ""]]);
  assert.throws(() => parseCsv("a,\"open\n"), FormatError);
  assert.throws(() => parseCsv("a,\"q\"x\n"), FormatError);
  const p = join(tmp, "t.csv");
  writeFileSync(p, "id,text,score\n1,\"hello, world\",0.5\n2,plain,3\n");
  const ds = readCsv(p);
  assert.deepEqual(ds.toArray(), [{ id: 1, text: "hello, world", score: 0.5 }, { id: 2, text: "plain", score: 3 }]);
  writeFileSync(p, "a,b\n1,2,3\n");
  assert.throws(() => readCsv(p), /row 2 has 3 fields, expected 2/);
});

test("JSONL: alpaca file has 2375 rows, 1202 with status ok; streaming readers agree", async () => {
  const path = join(FIX, "lm/alpaca_libre_tasks_v1.jsonl");
  const ds = readJsonl(path);
  assert.equal(ds.length, 2375);
  assert.equal(ds.filter((r) => r.status === "ok").length, 1202);
  let n = 0;
  for (const r of iterateJsonlSync(path)) { n++; assert.equal(typeof r.instruction, "string"); }
  assert.equal(n, 2375);
  let m = 0;
  for await (const r of iterateJsonl(path)) { m++; void r; }
  assert.equal(m, 2375);
  const lazy = IterableDataset.fromJsonl(path).filter((r) => r.status === "ok").map((r) => r.instruction as string);
  assert.equal([...lazy].length, 1202);
  assert.deepEqual([...lazy.take(2)], ds.filter((r) => r.status === "ok").select([0, 1]).column("instruction"));
  // every pass re-reads the file
  assert.equal([...lazy.take(3)].length, 3);
  const batches = [...IterableDataset.fromJsonl(path).take(10).batches(4)];
  assert.deepEqual(batches.map((b) => b.length), [4, 4, 2]);
  const shuffled = [...IterableDataset.fromJsonl(path).take(50).shuffleBuffer(8, 1)].map((r) => r.instruction);
  assert.equal(shuffled.length, 50);
  assert.deepEqual([...shuffled].sort(), ds.select([...Array(50).keys()]).column("instruction").sort());
  assert.notDeepEqual(shuffled, ds.select([...Array(50).keys()]).column("instruction"));
});

test("readLinesSync: chunk boundaries inside multi-byte characters and CRLF", () => {
  const p = join(tmp, "lines.txt");
  const lines = ["héllo wörld", "", "日本語のテキスト", "last line without newline"];
  writeFileSync(p, lines.join("\r\n"));
  for (const chunk of [1, 2, 3, 5, 64]) assert.deepEqual([...readLinesSync(p, chunk)], lines, `chunk ${chunk}`);
  writeFileSync(join(tmp, "bad.jsonl"), "{\"a\":1}\n[1,2]\n");
  assert.throws(() => readJsonl(join(tmp, "bad.jsonl")), /bad\.jsonl:2: expected a JSON object/);
});

test("SQuAD JSON (XQuAD): 1190 questions flattened; answers match the context at answer_start", () => {
  const ds = readJson(join(FIX, "qa/xquad.en.json"));
  assert.equal(ds.length, 1190);
  assert.deepEqual(ds.columns.slice(0, 5), ["id", "title", "context", "question", "answers"]);
  for (const r of ds) {
    const { text, answerStart } = r.answers;
    assert.equal(text.length, 1);
    assert.equal(r.context.slice(answerStart[0], answerStart[0] + text[0].length), text[0]);
  }
  assert.equal(ds.get(0).id, "56beb4343aeaaa14008c925b");
  assert.deepEqual(ds.get(0).answers, { text: ["308"], answerStart: [34] });
});

test("JSON arrays and {data: [...]} objects; loadDataset picks the reader and renames columns", async () => {
  const a = join(tmp, "rows.json");
  writeFileSync(a, JSON.stringify([{ t: "x", y: 1 }, { t: "z", y: 0 }]));
  const b = join(tmp, "wrapped.json");
  writeFileSync(b, JSON.stringify({ version: 2, data: [{ t: "x", y: 1 }] }));
  assert.deepEqual((await loadDataset(a, { columns: { t: "text", y: "label" } })).toArray(), [{ text: "x", label: 1 }, { text: "z", label: 0 }]);
  assert.deepEqual((await loadDataset(b)).toArray(), [{ t: "x", y: 1 }]);
  await assert.rejects(loadDataset(join(tmp, "x.xlsx")), ConfigError);
  await assert.rejects(loadDataset(a, { columns: { nope: "x" } }), ConfigError);
});

test("CoNLL: WNUT-17 sentence and token counts, 13 BIO tags", () => {
  const train = readConll(join(FIX, "ner/wnut17_train.conll"));
  assert.equal(train.length, 3394);
  assert.equal(train.toArray().reduce((a, r) => a + r.tokens.length, 0), 62730);
  const dev = readConll(join(FIX, "ner/wnut17_dev.conll"));
  assert.equal(dev.length, 1009);
  assert.equal(dev.toArray().reduce((a, r) => a + r.tokens.length, 0), 15733);
  const tags = new Set(train.toArray().flatMap((r) => r.tags));
  assert.equal(tags.size, 13);
  for (const r of train) assert.equal(r.tokens.length, r.tags.length);
  // dev sentence 2 from the file: "You should ' ve stayed on Redondo …" with Redondo B-location
  const s = dev.get(1);
  assert.deepEqual(s.tokens.slice(0, 7), ["You", "should", "'", "ve", "stayed", "on", "Redondo"]);
  assert.equal(s.tags[6], "B-location");
});

test("Dataset: map/filter/select/shuffle/columns; trainTestSplit is seeded and disjoint", () => {
  const ds = Dataset.fromColumns({ x: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9], y: "abcdefghij".split("") });
  assert.equal(ds.length, 10);
  assert.deepEqual(ds.columns, ["x", "y"]);
  assert.deepEqual(ds.filter((r) => r.x % 3 === 0).column("y"), ["a", "d", "g", "j"]);
  assert.deepEqual(ds.map((r) => ({ z: r.x * 2 })).select([1, 3]).toArray(), [{ z: 2 }, { z: 6 }]);
  const sh = ds.shuffle(42);
  assert.deepEqual(sh.column("x"), ds.shuffle(42).column("x"));
  assert.notDeepEqual(sh.column("x"), ds.column("x"));
  assert.deepEqual([...sh.column("x")].sort((a, b) => a - b), ds.column("x"));
  assert.throws(() => ds.get(10), ConfigError);
  const { train, test: te } = trainTestSplit(ds, { testSize: 0.25, seed: 7 });
  assert.equal(te.length, 3); // ceil(2.5)
  assert.equal(train.length, 7);
  const all = [...train.column("x"), ...te.column("x")].sort((a, b) => a - b);
  assert.deepEqual(all, ds.column("x"));
  assert.deepEqual(trainTestSplit(ds, { testSize: 0.25, seed: 7 }).test.column("x"), te.column("x"));
  assert.notDeepEqual(trainTestSplit(ds, { testSize: 4, seed: 8 }).test.column("x"), trainTestSplit(ds, { testSize: 4, seed: 9 }).test.column("x"));
  assert.throws(() => trainTestSplit(ds, { testSize: 11 }), ConfigError);
  assert.deepEqual(ds.renameColumns({ y: "letter" }).columns, ["x", "letter"]);
  assert.deepEqual(ds.removeColumns(["x"]).columns, ["y"]);
});

test("text files load one row per non-empty line (tinyshakespeare)", async () => {
  const ds = await loadDataset(join(FIX, "lm/tinyshakespeare.txt"));
  const nonEmpty = readFileSync(join(FIX, "lm/tinyshakespeare.txt"), "utf8").split("\n").filter((l) => l.length > 0).length;
  assert.equal(ds.length, nonEmpty);
  assert.equal(ds.get(0).text, "First Citizen:");
});

test("Parquet: rows written by a minimal spec-following writer read back through loadDataset (hyparquet)", async () => {
  const { writeParquetMin } = await import("./helpers/parquet_min.js");
  const sst = readCsv(join(FIX, "sst2/dev.tsv")).select([0, 1, 2, 3, 4]);
  const p = join(tmp, "sst.parquet");
  writeFileSync(p, writeParquetMin([
    { name: "sentence", type: "string", values: sst.column("sentence") },
    { name: "label", type: "int32", values: sst.column("label") },
    { name: "weight", type: "double", values: [0.5, 1.25, -3, 1e-3, 7] },
  ]));
  const ds = await loadDataset(p, { columns: { sentence: "text" } });
  assert.equal(ds.length, 5);
  assert.deepEqual(ds.column("text"), sst.column("sentence"));
  assert.deepEqual(ds.column("label"), sst.column("label"));
  assert.deepEqual(ds.column("weight"), [0.5, 1.25, -3, 1e-3, 7]);
  writeFileSync(join(tmp, "broken.parquet"), "PAR1 not really");
  await assert.rejects(loadDataset(join(tmp, "broken.parquet")), FormatError);
});

test("CSV type inference is per column: a text column with a numeric-looking value stays text", () => {
  const p = join(tmp, "mixed.tsv");
  writeFileSync(p, "sentence\tlabel\n1990\t1\nthe year 1990\t0\n");
  const ds = readCsv(p);
  assert.deepEqual(ds.column("sentence"), ["1990", "the year 1990"]);
  assert.deepEqual(ds.column("label"), [1, 0]);
  assert.deepEqual(readCsv(p, { inferTypes: false }).column("label"), ["1", "0"]);
});

test("JsonlFileDataset: random access by byte offset (rows read on demand) with a lazy map", async () => {
  const { JsonlFileDataset } = await import("../../src/data/datasets.js");
  const path = join(FIX, "lm/alpaca_libre_tasks_v1.jsonl");
  const all = readJsonl(path);
  const ds = JsonlFileDataset.open(path);
  assert.equal(ds.length, 2375);
  for (const i of [0, 1, 1234, 2374]) assert.deepEqual(ds.get(i), all.get(i));
  let calls = 0;
  const mapped = ds.map((r, i) => { calls++; return { i, n: String(r.instruction).length }; });
  assert.equal(calls, 0);
  assert.deepEqual(mapped.get(7), { i: 7, n: all.get(7).instruction.length });
  assert.equal(calls, 1);
  assert.throws(() => ds.get(2375), ConfigError);
  const p = join(tmp, "crlf.jsonl");
  writeFileSync(p, "{\"a\":\"é\"}\r\n\r\n  \n{\"a\":2}");
  const c = JsonlFileDataset.open(p);
  assert.equal(c.length, 2);
  assert.deepEqual([c.get(0), c.get(1)], [{ a: "é" }, { a: 2 }]);
  ds.close(); c.close();
});
