// Datasets: an in-memory table of rows (JSONL, JSON, CSV/TSV, Parquet, CoNLL) plus streaming
// readers for files larger than memory. The in-memory Dataset is deliberately small: rows are
// plain objects, every transform returns a new Dataset, and shuffling uses the seeded Rng.

import { closeSync, openSync, readFileSync, readSync, createReadStream, statSync } from "node:fs";
import { createInterface } from "node:readline";
import { StringDecoder } from "node:string_decoder";
import { extname } from "node:path";
import { ConfigError, FormatError } from "../tensor/errors.js";
import { Rng } from "../tensor/random.js";

export type Row = Record<string, any>;

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

// ------------------------------------------------------------------ line readers (streaming)

/** Lines of a text file, read in chunks (constant memory); a final line without newline is kept; "\r\n" is handled. */
export function* readLinesSync(path: string, chunkBytes = 1 << 20): Generator<string> {
  const fd = openSync(path, "r");
  try {
    const buf = Buffer.allocUnsafe(chunkBytes);
    const dec = new StringDecoder("utf8");
    let carry = "";
    for (;;) {
      const n = readSync(fd, buf, 0, chunkBytes, null);
      if (n === 0) break;
      carry += dec.write(buf.subarray(0, n));
      let nl: number;
      let start = 0;
      while ((nl = carry.indexOf("\n", start)) >= 0) {
        yield stripCr(carry.slice(start, nl));
        start = nl + 1;
      }
      carry = carry.slice(start);
    }
    carry += dec.end();
    if (carry.length > 0) yield stripCr(carry);
  } finally {
    closeSync(fd);
  }
}

function stripCr(s: string): string {
  return s.endsWith("\r") ? s.slice(0, -1) : s;
}

/** Async line reader over a read stream (for async training loops). */
export async function* readLines(path: string): AsyncGenerator<string> {
  const rl = createInterface({ input: createReadStream(path, { encoding: "utf8" }), crlfDelay: Infinity });
  for await (const line of rl) yield line;
}

function parseJsonLine(line: string, path: string, lineNo: number): Row {
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch (e) {
    throw new FormatError(`${path}:${lineNo}: invalid JSON (${(e as Error).message})`);
  }
  if (v === null || typeof v !== "object" || Array.isArray(v)) throw new FormatError(`${path}:${lineNo}: expected a JSON object per line, got ${Array.isArray(v) ? "an array" : typeof v}`);
  return v as Row;
}

/** Rows of a JSONL file one at a time (blank lines skipped); memory stays constant whatever the file size. */
export function* iterateJsonlSync(path: string): Generator<Row> {
  let lineNo = 0;
  for (const line of readLinesSync(path)) {
    lineNo++;
    if (line.trim() === "") continue;
    yield parseJsonLine(line, path, lineNo);
  }
}

/** Async variant of iterateJsonlSync. */
export async function* iterateJsonl(path: string): AsyncGenerator<Row> {
  let lineNo = 0;
  for await (const line of readLines(path)) {
    lineNo++;
    if (line.trim() === "") continue;
    yield parseJsonLine(line, path, lineNo);
  }
}

/**
 * A lazily read dataset: re-reads its source on each pass, so an epoch over a file larger
 * than memory is possible. map/filter are applied per row; take(n) limits; batches(n) groups.
 * shuffleBuffer(size, seed) gives approximate shuffling within a sliding buffer (as HF's IterableDataset).
 */
export class IterableDataset<R = Row> implements Iterable<R> {
  constructor(private readonly source: () => Iterator<R>) {}
  static fromJsonl(path: string): IterableDataset<Row> {
    statSync(path); // fail early if missing
    return new IterableDataset(() => iterateJsonlSync(path));
  }
  static fromTextLines(path: string, column = "text"): IterableDataset<Row> {
    statSync(path);
    return new IterableDataset(() => (function* () {
      for (const line of readLinesSync(path)) if (line.length > 0) yield { [column]: line };
    })());
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
  private fd: number | null = null;
  private constructor(readonly path: string, starts: Float64Array, ends: Float64Array, private readonly transform: ((row: Row, i: number) => R) | null) {
    this.starts = starts;
    this.ends = ends;
  }
  static open(path: string): JsonlFileDataset<Row> {
    const fd = openSync(path, "r");
    const starts: number[] = [], ends: number[] = [];
    try {
      const buf = Buffer.allocUnsafe(1 << 20);
      let pos = 0, lineStart = 0, blank = true;
      for (;;) {
        const n = readSync(fd, buf, 0, buf.length, pos);
        if (n === 0) break;
        for (let k = 0; k < n; k++) {
          const c = buf[k];
          if (c === 0x0a) {
            if (!blank) { starts.push(lineStart); ends.push(pos + k); }
            lineStart = pos + k + 1;
            blank = true;
          } else if (c !== 0x20 && c !== 0x09 && c !== 0x0d) blank = false;
        }
        pos += n;
      }
      if (!blank) { starts.push(lineStart); ends.push(pos); }
    } finally {
      closeSync(fd);
    }
    return new JsonlFileDataset(path, Float64Array.from(starts), Float64Array.from(ends), null);
  }
  get length(): number {
    return this.starts.length;
  }
  get(i: number): R {
    if (!Number.isInteger(i) || i < 0 || i >= this.length) throw new ConfigError(`JsonlFileDataset.get: index ${i} out of range for ${this.length} rows of ${this.path}`);
    if (this.fd === null) this.fd = openSync(this.path, "r");
    const len = this.ends[i] - this.starts[i];
    const buf = Buffer.allocUnsafe(len);
    let got = 0;
    while (got < len) {
      const n = readSync(this.fd, buf, got, len - got, this.starts[i] + got);
      if (n === 0) throw new FormatError(`${this.path}: file shrank while reading row ${i}`);
      got += n;
    }
    const row = parseJsonLine(buf.toString("utf8"), this.path, i + 1);
    return this.transform ? this.transform(row, i) : (row as R);
  }
  /** A view with fn applied to each row on access (rows are never all in memory). */
  map<S>(fn: (row: R, i: number) => S): JsonlFileDataset<S> {
    const prev = this.transform;
    const f = (row: Row, i: number): S => fn(prev ? prev(row, i) : (row as R), i);
    return new JsonlFileDataset<S>(this.path, this.starts, this.ends, f);
  }
  close(): void {
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
  }
}

// ------------------------------------------------------------------ CSV / TSV

export interface CsvOptions {
  delimiter?: string;
  /** Quote character, or null for no quoting (GLUE TSVs: fields may start with a literal "). */
  quote?: string | null;
  /** First row is the header (default true); otherwise columns are named column0, column1, … or opts.columnNames. */
  header?: boolean;
  columnNames?: string[];
  /** Convert columns whose every value looks numeric to numbers (default true). */
  inferTypes?: boolean;
}

/**
 * RFC 4180 parsing: quoted fields may contain the delimiter, newlines and doubled quotes.
 * With quote null every line is split on the delimiter as is.
 */
export function parseCsv(text: string, opts: CsvOptions = {}, source = "<string>"): string[][] {
  const d = opts.delimiter ?? ",";
  const q = opts.quote === undefined ? '"' : opts.quote;
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  const rows: string[][] = [];
  if (q === null) {
    const lines = text.split("\n");
    if (lines.length && lines[lines.length - 1] === "") lines.pop();
    for (const l of lines) rows.push(stripCr(l).split(d));
    return rows;
  }
  let row: string[] = [];
  let field = "";
  let i = 0;
  let line = 1;
  let fieldStarted = false;
  const n = text.length;
  const endField = () => {
    row.push(field);
    field = "";
    fieldStarted = false;
  };
  while (i < n) {
    const c = text[i];
    if (c === q && !fieldStarted) {
      // quoted field
      const startLine = line;
      i++;
      for (;;) {
        if (i >= n) throw new FormatError(`${source}:${startLine}: unterminated quoted field`);
        const ch = text[i];
        if (ch === q) {
          if (text[i + 1] === q) {
            field += q;
            i += 2;
            continue;
          }
          i++;
          break;
        }
        if (ch === "\n") line++;
        field += ch;
        i++;
      }
      fieldStarted = true;
      // after the closing quote: a delimiter, a line end or EOF
      if (i < n && text[i] !== d && text[i] !== "\n" && text[i] !== "\r") {
        throw new FormatError(`${source}:${line}: unexpected character '${text[i]}' after a closing quote`);
      }
      continue;
    }
    if (c === d) {
      endField();
      i++;
      continue;
    }
    if (c === "\r" && text[i + 1] === "\n") {
      i++;
      continue;
    }
    if (c === "\n") {
      endField();
      rows.push(row);
      row = [];
      line++;
      i++;
      continue;
    }
    field += c;
    fieldStarted = true;
    i++;
  }
  if (fieldStarted || row.length > 0) {
    endField();
    rows.push(row);
  }
  return rows;
}

const NUMERIC = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

/** Reads a CSV/TSV file into rows keyed by the header. Every row must have the header's field count. */
export function readCsv(path: string, opts: CsvOptions = {}): Dataset<Row> {
  const isTsv = /\.tsv$/i.test(path);
  const o: CsvOptions = { delimiter: isTsv ? "\t" : ",", quote: isTsv ? null : '"', ...opts };
  const rows = parseCsv(readFileSync(path, "utf8"), o, path);
  const header = o.header !== false;
  const names = header ? rows.shift() ?? [] : o.columnNames ?? (rows[0] ?? []).map((_, i) => `column${i}`);
  if (header && o.columnNames) {
    if (o.columnNames.length !== names.length) throw new ConfigError(`${path}: columnNames has ${o.columnNames.length} names, the header has ${names.length}`);
    names.splice(0, names.length, ...o.columnNames);
  }
  const infer = o.inferTypes !== false;
  const body: string[][] = [];
  rows.forEach((r, k) => {
    if (r.length === 1 && r[0] === "") return; // blank line
    if (r.length !== names.length) {
      throw new FormatError(`${path}: row ${k + 1 + (header ? 1 : 0)} has ${r.length} fields, expected ${names.length} (${names.join(", ")})`);
    }
    body.push(r);
  });
  // a column becomes numeric only when every value in it is a number (as pandas infers dtypes)
  const numeric = names.map((_, j) => infer && body.length > 0 && body.every((r) => NUMERIC.test(r[j])));
  const out: Row[] = body.map((r) => {
    const obj: Row = {};
    names.forEach((nm, j) => (obj[nm] = numeric[j] ? Number(r[j]) : r[j]));
    return obj;
  });
  return new Dataset(out);
}

// ------------------------------------------------------------------ JSON / JSONL

export function readJsonl(path: string): Dataset<Row> {
  return new Dataset([...iterateJsonlSync(path)]);
}

/**
 * A JSON file: an array of rows, {data: [...]} (rows), or SQuAD format ({data:[{title,
 * paragraphs:[{context, qas:[...]}]}]}), which is flattened into one row per question with
 * id, title, context, question, answers: {text: [...], answerStart: [...]}.
 */
export function readJson(path: string, opts: { field?: string } = {}): Dataset<Row> {
  let v: any;
  try {
    v = JSON.parse(readFileSync(path, "utf8"));
  } catch (e) {
    throw new FormatError(`${path}: invalid JSON (${(e as Error).message})`);
  }
  if (opts.field) {
    if (!v || typeof v !== "object" || !(opts.field in v)) throw new FormatError(`${path}: no field '${opts.field}' at the top level`);
    v = v[opts.field];
  } else if (v && !Array.isArray(v) && typeof v === "object" && Array.isArray(v.data)) {
    if (v.data.length > 0 && Array.isArray(v.data[0]?.paragraphs)) return new Dataset(flattenSquad(v, path));
    v = v.data;
  }
  if (!Array.isArray(v)) throw new FormatError(`${path}: expected an array of rows, {"data": [...]} or SQuAD JSON`);
  v.forEach((r: unknown, i: number) => {
    if (!r || typeof r !== "object" || Array.isArray(r)) throw new FormatError(`${path}: row ${i} is not an object`);
  });
  return new Dataset(v as Row[]);
}

export interface SquadRow extends Row {
  id: string;
  title: string;
  context: string;
  question: string;
  answers: { text: string[]; answerStart: number[] };
}

function flattenSquad(v: any, path: string): SquadRow[] {
  const out: SquadRow[] = [];
  v.data.forEach((art: any, ai: number) => {
    if (!Array.isArray(art.paragraphs)) throw new FormatError(`${path}: data[${ai}].paragraphs is not an array`);
    art.paragraphs.forEach((p: any, pi: number) => {
      if (typeof p.context !== "string") throw new FormatError(`${path}: data[${ai}].paragraphs[${pi}].context is not a string`);
      for (const qa of p.qas ?? []) {
        const answers = Array.isArray(qa.answers) ? qa.answers : [];
        for (const a of answers) {
          if (typeof a.text !== "string" || !Number.isInteger(a.answer_start)) throw new FormatError(`${path}: question ${qa.id}: answers need text and integer answer_start`);
        }
        out.push({
          id: String(qa.id),
          title: String(art.title ?? ""),
          context: p.context,
          question: String(qa.question),
          answers: { text: answers.map((a: any) => a.text), answerStart: answers.map((a: any) => a.answer_start) },
          ...(qa.is_impossible !== undefined ? { isImpossible: !!qa.is_impossible } : {}),
        });
      }
    });
  });
  return out;
}

// ------------------------------------------------------------------ CoNLL

export interface ConllRow extends Row {
  tokens: string[];
  tags: string[];
}

/**
 * CoNLL-style token classification: one "token<sep>…<sep>tag" per line (tag = last field),
 * blank lines between sentences; "-DOCSTART-" lines are skipped.
 */
export function readConll(path: string, opts: { separator?: RegExp | string } = {}): Dataset<ConllRow> {
  const sep = opts.separator ?? "\t";
  const out: ConllRow[] = [];
  let tokens: string[] = [];
  let tags: string[] = [];
  let lineNo = 0;
  const flush = () => {
    if (tokens.length) out.push({ tokens, tags });
    tokens = [];
    tags = [];
  };
  for (const line of readLinesSync(path)) {
    lineNo++;
    if (line.trim() === "") {
      flush();
      continue;
    }
    if (line.startsWith("-DOCSTART-")) continue;
    const f = line.split(sep);
    if (f.length < 2) throw new FormatError(`${path}:${lineNo}: expected 'token${typeof sep === "string" ? JSON.stringify(sep) : " "}tag', got ${JSON.stringify(line)}`);
    tokens.push(f[0]);
    tags.push(f[f.length - 1].trim());
  }
  flush();
  return new Dataset(out);
}

// ------------------------------------------------------------------ Parquet

/** Reads a Parquet file (hyparquet) into rows; BigInt integers become numbers when exact. */
export async function readParquet(path: string, opts: { columns?: string[] } = {}): Promise<Dataset<Row>> {
  const { asyncBufferFromFile, parquetReadObjects } = await import("hyparquet");
  let rows: Row[];
  try {
    const file = await asyncBufferFromFile(path);
    rows = (await parquetReadObjects({ file, columns: opts.columns })) as Row[];
  } catch (e) {
    throw new FormatError(`${path}: cannot read Parquet (${(e as Error).message})`);
  }
  for (const r of rows) {
    for (const [k, v] of Object.entries(r)) {
      if (typeof v === "bigint" && v <= BigInt(Number.MAX_SAFE_INTEGER) && v >= BigInt(Number.MIN_SAFE_INTEGER)) r[k] = Number(v);
    }
  }
  return new Dataset(rows);
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
    case "text": ds = new Dataset([...readLinesSync(path)].filter((l) => l.length > 0).map((text) => ({ text }))); break;
    default: throw new ConfigError(`loadDataset: unknown format '${fmt}'`);
  }
  return opts.columns ? ds.renameColumns(opts.columns) : ds;
}
