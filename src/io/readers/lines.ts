// Line readers shared by the line-oriented formats (JSONL, CoNLL, plain text).

import { closeSync, createReadStream, openSync, readSync } from "node:fs";
import { createInterface } from "node:readline";
import { StringDecoder } from "node:string_decoder";
import { requireReadableFile } from "../fs.js";

/** Lines of a text file, read in chunks (constant memory); a final line without newline is kept; "\r\n" is handled. */
export function* readLinesSync(path: string, chunkBytes = 1 << 20): Generator<string> {
  requireReadableFile(path, "a text");
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

export function stripCr(s: string): string {
  return s.endsWith("\r") ? s.slice(0, -1) : s;
}

/** Async line reader over a read stream (for async training loops). */
export async function* readLines(path: string): AsyncGenerator<string> {
  const rl = createInterface({ input: createReadStream(path, { encoding: "utf8" }), crlfDelay: Infinity });
  for await (const line of rl) yield line;
}
