// JSON Lines: one JSON object per line, blank lines skipped. Streaming iteration, whole-file
// reading, and a byte-offset index of the lines for random access without loading the file.

import { getFiles, type ReadHandle } from "../../platform/files.js";
import { FormatError } from "../../tensor/errors.js";
import { parseJsonText } from "../json.js";
import { requireReadableFile } from "../fs.js";
import { readLines, readLinesSync } from "./lines.js";
import type { Row } from "./types.js";

const utf8 = new TextDecoder("utf-8", { ignoreBOM: true });

export function parseJsonLine(line: string, path: string, lineNo: number): Row {
  const v = parseJsonText(line, `${path}:${lineNo}`, "the line");
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

export function readJsonlRows(path: string): Row[] {
  return [...iterateJsonlSync(path)];
}

/** Byte ranges [starts[i], ends[i]) of the non-blank lines of a file, found in one chunked pass. */
export function indexJsonlLines(path: string): { starts: Float64Array; ends: Float64Array } {
  requireReadableFile(path, "a JSONL");
  const fd = getFiles().openRead(path);
  const starts: number[] = [], ends: number[] = [];
  try {
    const buf = new Uint8Array(1 << 20);
    let pos = 0, lineStart = 0, blank = true;
    for (;;) {
      const n = fd.read(buf, 0, buf.length, pos);
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
    fd.close();
  }
  return { starts: Float64Array.from(starts), ends: Float64Array.from(ends) };
}

/** Reads bytes [start, end) of an open file and parses them as row `row` (0-based) of path. */
export function readJsonlRowAt(fd: ReadHandle, start: number, end: number, path: string, row: number): Row {
  const len = end - start;
  const buf = new Uint8Array(len);
  let got = 0;
  while (got < len) {
    const n = fd.read(buf, got, len - got, start + got);
    if (n === 0) throw new FormatError(`${path}: file shrank while reading row ${row}`);
    got += n;
  }
  return parseJsonLine(utf8.decode(buf), path, row + 1);
}
