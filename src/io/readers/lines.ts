// Line readers shared by the line-oriented formats (JSONL, CoNLL, plain text).

import { getFiles } from "../../platform/files.js";
import { requireReadableFile } from "../fs.js";

/** Lines of a text file, read in chunks (constant memory); a final line without newline is kept; "\r\n" is handled. */
export function* readLinesSync(path: string, chunkBytes = 1 << 20): Generator<string> {
  requireReadableFile(path, "a text");
  const fd = getFiles().openRead(path);
  try {
    const buf = new Uint8Array(chunkBytes);
    // a character split across two chunks is completed by the next one (stream mode); a BOM is kept
    const dec = new TextDecoder("utf-8", { ignoreBOM: true });
    let carry = "";
    for (let pos = 0; ; ) {
      const n = fd.read(buf, 0, chunkBytes, pos);
      if (n === 0) break;
      pos += n;
      carry += dec.decode(buf.subarray(0, n), { stream: true });
      let nl: number;
      let start = 0;
      while ((nl = carry.indexOf("\n", start)) >= 0) {
        yield stripCr(carry.slice(start, nl));
        start = nl + 1;
      }
      carry = carry.slice(start);
    }
    carry += dec.decode();
    if (carry.length > 0) yield stripCr(carry);
  } finally {
    fd.close();
  }
}

export function stripCr(s: string): string {
  return s.endsWith("\r") ? s.slice(0, -1) : s;
}

/** Async variant of readLinesSync (for async training loops): the same lines, a turn of the event loop per chunk. */
export async function* readLines(path: string, chunkBytes = 1 << 20): AsyncGenerator<string> {
  let sinceYield = 0;
  for (const line of readLinesSync(path, chunkBytes)) {
    sinceYield += line.length + 1;
    if (sinceYield >= chunkBytes) {
      sinceYield = 0;
      await new Promise<void>((r) => setTimeout(r, 0));
    }
    yield line;
  }
}
