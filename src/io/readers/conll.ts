// CoNLL token classification: one "token<sep>…<sep>tag" per line, blank lines between sentences.

import { FormatError } from "../../tensor/errors.js";
import { readLinesSync } from "./lines.js";
import type { Row } from "./types.js";

export interface ConllRow extends Row {
  tokens: string[];
  tags: string[];
}

/**
 * CoNLL-style token classification: one "token<sep>…<sep>tag" per line (tag = last field),
 * blank lines between sentences; "-DOCSTART-" lines are skipped.
 */
export function readConllRows(path: string, opts: { separator?: RegExp | string } = {}): ConllRow[] {
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
  return out;
}
