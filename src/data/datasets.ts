// Datasets: an in-memory table of rows plus lazily read datasets for files larger than memory.
// The file formats (JSONL, JSON, CSV/TSV, Parquet, CoNLL, text) are read by src/io/readers;
// this module wraps their rows. The in-memory Dataset is deliberately small: rows are plain
// objects, every transform returns a new Dataset, and shuffling uses the seeded Rng.

import { getFiles, type ReadHandle } from "../platform/files.js";
import { extname } from "../platform/paths.js";
import { ConfigError } from "../tensor/errors.js";
import { Rng } from "../tensor/random.js";
import {
  indexJsonlLines, iterateJsonlSync, iterateTextSync, readConllRows, readCsvRows, readJsonlRowAt, readJsonlRows, readJsonRows,
  readParquetRows, readTextRows,
} from "../io/readers/index.js";
import type { ConllRow, CsvOptions, Row } from "../io/readers/index.js";

export type { Row, CsvOptions, SquadRow, ConllRow } from "../io/readers/index.js";
export { readLinesSync, readLines, iterateJsonlSync, iterateJsonl, parseCsv } from "../io/readers/index.js";

export class Dataset<R extends Row = Row> implements Iterable<R> {
  private readonly rows: R[];
  constructor(rows: R[]) {
    this.rows = rows;
  }
  static fromRows<R extends Row>(rows: R[]): Dataset<R> {
    return new Dataset(rows.slice());
  }
  /** Column-oriented input: { text: [...], label: [...] } (all columns the same length). */
  static fromColumns(cols: Record<string, unknown[]>): Dataset<Row> {
    const names = Object.keys(cols);
    const n = names.length ? cols[names[0]].length : 0;
    for (const c of names) {
      if (cols[c].length !== n) throw new ConfigError(`Dataset.fromColumns: column '${c}' has ${cols[c].length} values, '${names[0]}' has ${n}`);
    }
    return new Dataset(Array.from({ length: n }, (_, i) => Object.fromEntries(names.map((c) => [c, cols[c][i]]))));
  }
  get length(): number {
    return this.rows.length;
  }
  get(i: number): R {
    if (!Number.isInteger(i) || i < 0 || i >= this.rows.length) throw new ConfigError(`Dataset.get: index ${i} out of range for ${this.rows.length} rows`);
    return this.rows[i];
  }
  /** Union of the keys of the rows, in first-seen order. */
  get columns(): string[] {
    const seen = new Set<string>();
    for (const r of this.rows) for (const k of Object.keys(r)) seen.add(k);
    return [...seen];
  }
  /** All values of one column. */
  column<K extends keyof R & string>(name: K): R[K][] {
    return this.rows.map((r) => r[name]);
  }
  [Symbol.iterator](): Iterator<R> {
    return this.rows[Symbol.iterator]();
  }
  toArray(): R[] {
    return this.rows.slice();
  }
  map<S extends Row>(fn: (row: R, i: number) => S): Dataset<S> {
    return new Dataset(this.rows.map(fn));
  }
  /** Like map, but one row may become several (or none), e.g. QA windows over a long context. */
  flatMap<S extends Row>(fn: (row: R, i: number) => S[]): Dataset<S> {
    return new Dataset(this.rows.flatMap(fn));
  }
  filter(fn: (row: R, i: number) => boolean): Dataset<R> {
    return new Dataset(this.rows.filter(fn));
  }
  select(indices: Iterable<number>): Dataset<R> {
    const out: R[] = [];
    for (const i of indices) out.push(this.get(i));
    return new Dataset(out);
  }
  /** A seeded permutation (Fisher–Yates over the project Rng). */
  shuffle(seed = 0): Dataset<R> {
    return this.select(new Rng(seed).permutation(this.rows.length));
  }
  /** Renames columns: { old: "new" }. A missing old column is an error. */
  renameColumns(mapping: Record<string, string>): Dataset<Row> {
    const cols = new Set(this.columns);
    for (const k of Object.keys(mapping)) if (!cols.has(k)) throw new ConfigError(`renameColumns: no column '${k}' (columns: ${[...cols].join(", ")})`);
    return new Dataset(this.rows.map((r) => renameRow(r, mapping)));
  }
  selectColumns(names: string[]): Dataset<Row> {
    const cols = new Set(this.columns);
    for (const k of names) if (!cols.has(k)) throw new ConfigError(`selectColumns: no column '${k}' (columns: ${[...cols].join(", ")})`);
    return new Dataset(this.rows.map((r) => Object.fromEntries(names.map((k) => [k, r[k]]))));
  }
  removeColumns(names: string[]): Dataset<Row> {
    const drop = new Set(names);
    return new Dataset(this.rows.map((r) => Object.fromEntries(Object.entries(r).filter(([k]) => !drop.has(k)))));
  }
  concat(other: Dataset<R>): Dataset<R> {
    return new Dataset([...this.rows, ...other.rows]);
  }
}

function renameRow(r: Row, mapping: Record<string, string>): Row {
  const out: Row = {};
  for (const [k, v] of Object.entries(r)) out[mapping[k] ?? k] = v;
  return out;
}

/**
 * Seeded train/test split (shuffle, then the first testSize rows are the test set, as
 * datasets.Dataset.train_test_split). testSize is a fraction in (0, 1) or a row count.
 */
export function trainTestSplit<R extends Row>(ds: Dataset<R>, opts: { testSize: number; seed?: number; shuffle?: boolean }): { train: Dataset<R>; test: Dataset<R> } {
  const n = ds.length;
  const t = opts.testSize;
  const nTest = t > 0 && t < 1 ? Math.ceil(t * n) : t;
  if (!Number.isInteger(nTest) || nTest < 0 || nTest > n) throw new ConfigError(`trainTestSplit: testSize ${t} is neither a fraction in (0,1) nor a count in [0, ${n}]`);
  const order = opts.shuffle === false ? [...Array(n).keys()] : new Rng(opts.seed ?? 0).permutation(n);
  return { train: ds.select(order.slice(nTest)), test: ds.select(order.slice(0, nTest)) };
}

// ------------------------------------------------------------------ lazily read datasets


/**
 * A lazily read dataset: re-reads its source on each pass, so an epoch over a file larger
 * than memory is possible. map/filter are applied per row; take(n) limits; batches(n) groups.
 * shuffleBuffer(size, seed) gives approximate shuffling within a sliding buffer (as HF's IterableDataset).
 */
export class IterableDataset<R = Row> implements Iterable<R> {
  constructor(private readonly source: () => Iterator<R>) {}
  static fromJsonl(path: string): IterableDataset<Row> {
    getFiles().stat(path); // fail early if missing
    return new IterableDataset(() => iterateJsonlSync(path));
  }
  static fromTextLines(path: string, column = "text"): IterableDataset<Row> {
    getFiles().stat(path);
    return new IterableDataset(() => iterateTextSync(path, column));
  }
  [Symbol.iterator](): Iterator<R> {
    return this.source();
  }
  map<S>(fn: (row: R) => S): IterableDataset<S> {
    const src = this.source;
    return new IterableDataset(() => (function* () {
      const it = src();
      for (let r = it.next(); !r.done; r = it.next()) yield fn(r.value);
    })());
  }
  filter(fn: (row: R) => boolean): IterableDataset<R> {
    const src = this.source;
    return new IterableDataset(() => (function* () {
      const it = src();
      for (let r = it.next(); !r.done; r = it.next()) if (fn(r.value)) yield r.value;
    })());
  }
  take(n: number): IterableDataset<R> {
    const src = this.source;
    return new IterableDataset(() => (function* () {
      if (n <= 0) return;
      const it = src();
      let k = 0;
      for (let r = it.next(); !r.done; r = it.next()) {
        yield r.value;
        if (++k >= n) return;
      }
    })());
  }
  shuffleBuffer(size: number, seed = 0): IterableDataset<R> {
    const src = this.source;
    return new IterableDataset(() => (function* () {
      const rng = new Rng(seed);
      const buf: R[] = [];
      const it = src();
      for (let r = it.next(); !r.done; r = it.next()) {
        if (buf.length < size) {
          buf.push(r.value);
          continue;
        }
        const j = rng.randint(size);
        const out = buf[j];
        buf[j] = r.value;
        yield out;
      }
      while (buf.length) yield buf.splice(rng.randint(buf.length), 1)[0];
    })());
  }
  *batches(size: number, dropLast = false): Generator<R[]> {
    let b: R[] = [];
    for (const r of this) {
      b.push(r);
      if (b.length === size) {
        yield b;
        b = [];
      }
    }
    if (b.length && !dropLast) yield b;
  }
  /** Reads everything into an in-memory Dataset (only for data that fits). */
  materialize(): Dataset<R & Row> {
    return new Dataset([...this] as (R & Row)[]);
  }
}

/**
 * Random access to a JSONL file without loading it: one pass records the byte offset of every
 * line (8 bytes per row in memory), and get(i) reads and parses that line. It has the length/get
 * shape the Trainer samples from, so a file larger than memory can be trained on (with a
 * per-row `transform`, e.g. tokenization, applied on access).
 */
export class JsonlFileDataset<R = Row> {
  private readonly starts: Float64Array;
  private readonly ends: Float64Array;
  private fd: ReadHandle | null = null;
  private constructor(readonly path: string, starts: Float64Array, ends: Float64Array, private readonly transform: ((row: Row, i: number) => R) | null) {
    this.starts = starts;
    this.ends = ends;
  }
  static open(path: string): JsonlFileDataset<Row> {
    const { starts, ends } = indexJsonlLines(path);
    return new JsonlFileDataset(path, starts, ends, null);
  }
  get length(): number {
    return this.starts.length;
  }
  get(i: number): R {
    if (!Number.isInteger(i) || i < 0 || i >= this.length) throw new ConfigError(`JsonlFileDataset.get: index ${i} out of range for ${this.length} rows of ${this.path}`);
    if (this.fd === null) this.fd = getFiles().openRead(this.path);
    const row = readJsonlRowAt(this.fd, this.starts[i], this.ends[i], this.path, i);
    return this.transform ? this.transform(row, i) : (row as R);
  }
  /** A view with fn applied to each row on access (rows are never all in memory). */
  map<S>(fn: (row: R, i: number) => S): JsonlFileDataset<S> {
    const prev = this.transform;
    const f = (row: Row, i: number): S => fn(prev ? prev(row, i) : (row as R), i);
    return new JsonlFileDataset<S>(this.path, this.starts, this.ends, f);
  }
  close(): void {
    if (this.fd !== null) this.fd.close();
    this.fd = null;
  }
}

// ------------------------------------------------------------------ file readers as Datasets

/** Reads a CSV/TSV file into rows keyed by the header. Every row must have the header's field count. */
export function readCsv(path: string, opts: CsvOptions = {}): Dataset<Row> {
  return new Dataset(readCsvRows(path, opts));
}

export function readJsonl(path: string): Dataset<Row> {
  return new Dataset(readJsonlRows(path));
}

/**
 * A JSON file: an array of rows, {data: [...]} (rows), or SQuAD format ({data:[{title,
 * paragraphs:[{context, qas:[...]}]}]}), which is flattened into one row per question with
 * id, title, context, question, answers: {text: [...], answerStart: [...]}.
 */
export function readJson(path: string, opts: { field?: string } = {}): Dataset<Row> {
  return new Dataset(readJsonRows(path, opts));
}

/**
 * CoNLL-style token classification: one "token<sep>…<sep>tag" per line (tag = last field),
 * blank lines between sentences; "-DOCSTART-" lines are skipped.
 */
export function readConll(path: string, opts: { separator?: RegExp | string } = {}): Dataset<ConllRow> {
  return new Dataset(readConllRows(path, opts));
}

/** Reads a Parquet file (hyparquet) into rows; BigInt integers become numbers when exact. */
export async function readParquet(path: string, opts: { columns?: string[] } = {}): Promise<Dataset<Row>> {
  return new Dataset(await readParquetRows(path, opts));
}

// ------------------------------------------------------------------ loadDataset

export interface LoadDatasetOptions extends CsvOptions {
  /** "jsonl" | "json" | "csv" | "tsv" | "parquet" | "conll" | "text"; default from the extension. */
  format?: "jsonl" | "json" | "csv" | "tsv" | "parquet" | "conll" | "text";
  /** Rename columns after reading: { old: "new" }. */
  columns?: Record<string, string>;
  /** JSON: the top-level field holding the rows. */
  field?: string;
}

const EXT_FORMAT: Record<string, LoadDatasetOptions["format"]> = {
  ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "json", ".csv": "csv", ".tsv": "tsv",
  ".parquet": "parquet", ".conll": "conll", ".txt": "text",
};

/** Reads a file into a Dataset choosing the reader by extension (or opts.format), then renames columns. */
export async function loadDataset(path: string, opts: LoadDatasetOptions = {}): Promise<Dataset<Row>> {
  const fmt = opts.format ?? EXT_FORMAT[extname(path).toLowerCase()];
  if (!fmt) throw new ConfigError(`loadDataset(${path}): unknown extension '${extname(path)}'; pass format (jsonl, json, csv, tsv, parquet, conll, text)`);
  let ds: Dataset<Row>;
  switch (fmt) {
    case "jsonl": ds = readJsonl(path); break;
    case "json": ds = readJson(path, { field: opts.field }); break;
    case "csv": ds = readCsv(path, { delimiter: ",", quote: '"', ...opts }); break;
    case "tsv": ds = readCsv(path, { delimiter: "\t", quote: null, ...opts }); break;
    case "parquet": ds = await readParquet(path); break;
    case "conll": ds = readConll(path); break;
    case "text": ds = new Dataset(readTextRows(path)); break;
    default: throw new ConfigError(`loadDataset: unknown format '${fmt}'`);
  }
  return opts.columns ? ds.renameColumns(opts.columns) : ds;
}
