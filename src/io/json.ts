// A strict JSON parser for file headers. Unlike JSON.parse it reports duplicate object keys
// (JSON.parse silently keeps the last one, which would hide a conflicting tensor entry) and
// it bounds nesting depth, so hostile input cannot exhaust the stack.
// Below: parseJsonText / readJsonFileChecked, JSON.parse behind a size and nesting limit with
// FormatErrors naming the file, for every JSON file the readers load.

import { getFiles } from "../platform/files.js";
import { FormatError } from "../tensor/errors.js";

export class JsonSyntaxError extends Error {
  constructor(message: string, readonly position: number) {
    super(message);
  }
}

export interface StrictJsonOptions {
  /** Deepest allowed nesting of objects/arrays (default 64). */
  maxDepth?: number;
}

/** Parses `text` as strict JSON; throws JsonSyntaxError (with a position) on any error, including duplicate keys. */
export function parseStrictJson(text: string, opts: StrictJsonOptions = {}): unknown {
  const maxDepth = opts.maxDepth ?? 64;
  let i = 0;
  const n = text.length;

  const fail = (msg: string): never => {
    throw new JsonSyntaxError(`${msg} at position ${i}`, i);
  };
  const ws = () => {
    while (i < n) {
      const c = text.charCodeAt(i);
      if (c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d) i++;
      else break;
    }
  };
  const str = (): string => {
    // assumes text[i] === '"'
    i++;
    let out = "";
    let start = i;
    for (;;) {
      if (i >= n) fail("unterminated string");
      const c = text.charCodeAt(i);
      if (c === 0x22) {
        out += text.slice(start, i);
        i++;
        return out;
      }
      if (c < 0x20) fail("control character in string");
      if (c === 0x5c) {
        out += text.slice(start, i);
        i++;
        if (i >= n) fail("unterminated escape");
        const e = text[i];
        switch (e) {
          case '"': out += '"'; break;
          case "\\": out += "\\"; break;
          case "/": out += "/"; break;
          case "b": out += "\b"; break;
          case "f": out += "\f"; break;
          case "n": out += "\n"; break;
          case "r": out += "\r"; break;
          case "t": out += "\t"; break;
          case "u": {
            const hex = text.slice(i + 1, i + 5);
            if (!/^[0-9a-fA-F]{4}$/.test(hex)) fail("bad \\u escape");
            out += String.fromCharCode(parseInt(hex, 16));
            i += 4;
            break;
          }
          default: fail(`bad escape '\\${e}'`);
        }
        i++;
        start = i;
        continue;
      }
      i++;
    }
  };
  const num = (): number => {
    const m = /^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?/.exec(text.slice(i, i + 400));
    if (!m) fail("invalid number");
    i += m![0].length;
    return Number(m![0]);
  };
  const lit = (word: string, v: unknown): unknown => {
    if (text.startsWith(word, i)) {
      i += word.length;
      return v;
    }
    return fail("unexpected token");
  };
  const value = (depth: number): unknown => {
    ws();
    if (i >= n) fail("unexpected end of input");
    const c = text[i];
    if (c === "{") {
      if (depth >= maxDepth) fail(`nesting deeper than ${maxDepth}`);
      i++;
      const obj: Record<string, unknown> = Object.create(null);
      const seen = new Set<string>();
      ws();
      if (text[i] === "}") {
        i++;
        return obj;
      }
      for (;;) {
        ws();
        if (text[i] !== '"') fail("expected a string key");
        const keyPos = i;
        const k = str();
        if (seen.has(k)) throw new JsonSyntaxError(`duplicate key ${JSON.stringify(k)} at position ${keyPos}`, keyPos);
        seen.add(k);
        ws();
        if (text[i] !== ":") fail("expected ':'");
        i++;
        obj[k] = value(depth + 1);
        ws();
        if (text[i] === ",") { i++; continue; }
        if (text[i] === "}") { i++; return obj; }
        fail("expected ',' or '}'");
      }
    }
    if (c === "[") {
      if (depth >= maxDepth) fail(`nesting deeper than ${maxDepth}`);
      i++;
      const arr: unknown[] = [];
      ws();
      if (text[i] === "]") {
        i++;
        return arr;
      }
      for (;;) {
        arr.push(value(depth + 1));
        ws();
        if (text[i] === ",") { i++; continue; }
        if (text[i] === "]") { i++; return arr; }
        fail("expected ',' or ']'");
      }
    }
    if (c === '"') return str();
    if (c === "t") return lit("true", true);
    if (c === "f") return lit("false", false);
    if (c === "n") return lit("null", null);
    return num();
  };

  const v = value(0);
  ws();
  if (i !== n) fail("trailing characters after the JSON value");
  return v;
}

// ---------------------------------------------------------------------------- JSON files

/** Deepest nesting accepted in a JSON file (HF/PEFT files nest a handful of levels). */
export const MAX_JSON_DEPTH = 100;
/** Largest JSON file read (V8 strings stop at ~512 MiB; real tokenizer.json files are tens of MB). */
export const MAX_JSON_BYTES = 256 * 1024 * 1024;

/** The position where `text` nests objects/arrays deeper than `maxDepth`, or -1. One pass, strings skipped. */
export function jsonDepthExceededAt(text: string, maxDepth = MAX_JSON_DEPTH): number {
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22) {
      // skip the string (escapes included)
      for (i++; i < text.length; i++) {
        const d = text.charCodeAt(i);
        if (d === 0x5c) i++;
        else if (d === 0x22) break;
      }
    } else if (c === 0x7b || c === 0x5b) {
      if (++depth > maxDepth) return i;
    } else if (c === 0x7d || c === 0x5d) depth--;
  }
  return -1;
}

/**
 * JSON.parse with a nesting limit; any failure is a `FormatError` naming `file` and `what`.
 * Keys such as "__proto__" or "constructor" stay ordinary own data properties (JSON.parse
 * defines them, it never assigns them), so they cannot reach a prototype.
 */
export function parseJsonText(text: string, file: string, what = "JSON", maxDepth = MAX_JSON_DEPTH): unknown {
  const deep = jsonDepthExceededAt(text, maxDepth);
  if (deep >= 0) throw new FormatError(`${file}: ${what} nests deeper than ${maxDepth} levels (at character ${deep}); expected a shallow JSON document`);
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new FormatError(`${file}: ${what} is not valid JSON: ${(e as Error).message}`);
  }
}

/** Reads and parses a JSON file (size and nesting limited); a missing/unreadable file is a FormatError too. */
export function readJsonFileChecked(path: string, what = "JSON"): unknown {
  let size: number;
  try {
    size = getFiles().stat(path).size;
  } catch (e) {
    throw new FormatError(`${path}: cannot read ${what}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  if (size > MAX_JSON_BYTES) throw new FormatError(`${path}: ${what} has ${size} bytes, more than the limit of ${MAX_JSON_BYTES}`);
  let text: string;
  try {
    text = getFiles().readText(path);
  } catch (e) {
    throw new FormatError(`${path}: cannot read ${what}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  return parseJsonText(text, path, what);
}
