// CSV / TSV: RFC 4180 parsing and typed rows keyed by the header.

import { getFiles } from "../../platform/files.js";
import { ConfigError, FormatError } from "../../tensor/errors.js";
import { requireReadableFile } from "../fs.js";
import { stripCr } from "./lines.js";
import type { Row } from "./types.js";

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
export function readCsvRows(path: string, opts: CsvOptions = {}): Row[] {
  const isTsv = /\.tsv$/i.test(path);
  const o: CsvOptions = { delimiter: isTsv ? "\t" : ",", quote: isTsv ? null : '"', ...opts };
  requireReadableFile(path, isTsv ? "a TSV" : "a CSV");
  const rows = parseCsv(getFiles().readText(path), o, path);
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
  return out;
}
