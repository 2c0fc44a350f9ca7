// safetensors headers: the dtype table, the header types, and reading + validating the u64 length and JSON header.

import { getFiles, type ReadHandle } from "../platform/files.js";
import { FormatError } from "../tensor/errors.js";
import { JsonSyntaxError, parseStrictJson } from "./json.js";
import { conversionHint, looksLikePickle } from "./weights_format.js";

/** Element size in bytes per safetensors dtype. */
export const SAFETENSORS_DTYPE_SIZE: Readonly<Record<string, number>> = {
  BOOL: 1, U8: 1, I8: 1, F8_E5M2: 1, F8_E4M3: 1, I16: 2, U16: 2, F16: 2, BF16: 2,
  I32: 4, U32: 4, F32: 4, F64: 8, I64: 8, U64: 8,
};

/** Same limit as the reference implementation: headers above 100 MB are rejected. */
export const MAX_HEADER_BYTES = 100_000_000;

export interface SafetensorsEntry {
  dtype: string;
  shape: number[];
  /** Byte offsets relative to the start of the data region. */
  begin: number;
  end: number;
}

export interface SafetensorsHeader {
  tensors: Map<string, SafetensorsEntry>;
  metadata: Record<string, string> | null;
  /** Absolute file offset of the data region (8 + header length). */
  dataOffset: number;
}

/** Reads exactly dst.length bytes at position, or throws a FormatError naming what was being read. */
export function readExactly(fd: ReadHandle, dst: Uint8Array, position: number, file: string, what: string): void {
  let done = 0;
  while (done < dst.length) {
    const want = Math.min(dst.length - done, 1 << 30);
    const got = fd.read(dst, done, want, position + done);
    if (got <= 0) {
      throw new FormatError(`${file}: unexpected end of file while reading ${what}: expected ${dst.length} bytes at offset ${position}, got ${done}`);
    }
    done += got;
  }
}

/** A short JSON rendering of a value for error messages. */
export function describe(v: unknown): string {
  let s: string;
  try {
    s = JSON.stringify(v) ?? String(v);
  } catch {
    s = String(v);
  }
  return s.length > 80 ? s.slice(0, 77) + "..." : s;
}

/** Parses and validates a header from its raw bytes; `dataLength` is the size of the data region. */
function parseHeader(file: string, headerBytes: Uint8Array, dataLength: number): { tensors: Map<string, SafetensorsEntry>; metadata: Record<string, string> | null } {
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(headerBytes);
  } catch {
    throw new FormatError(`${file}: safetensors header is not valid UTF-8`);
  }
  let root: unknown;
  try {
    root = parseStrictJson(text, { maxDepth: 8 });
  } catch (e) {
    if (e instanceof JsonSyntaxError) throw new FormatError(`${file}: safetensors header is not valid JSON: ${e.message}`);
    throw e;
  }
  if (root === null || typeof root !== "object" || Array.isArray(root)) {
    throw new FormatError(`${file}: safetensors header must be a JSON object, found ${describe(root)}`);
  }
  let metadata: Record<string, string> | null = null;
  const entries: [string, SafetensorsEntry][] = [];
  for (const [name, raw] of Object.entries(root as Record<string, unknown>)) {
    if (name === "__metadata__") {
      if (raw === null || typeof raw !== "object" || Array.isArray(raw)) {
        throw new FormatError(`${file}: "__metadata__" must be an object of strings, found ${describe(raw)}`);
      }
      metadata = {};
      for (const [k, v] of Object.entries(raw as Record<string, unknown>)) {
        if (typeof v !== "string") throw new FormatError(`${file}: "__metadata__.${k}" must be a string, found ${describe(v)}`);
        metadata[k] = v;
      }
      continue;
    }
    const where = `${file}: tensor '${name}'`;
    if (raw === null || typeof raw !== "object" || Array.isArray(raw)) {
      throw new FormatError(`${where}: expected an object {dtype, shape, data_offsets}, found ${describe(raw)}`);
    }
    const info = raw as Record<string, unknown>;
    const dtype = info.dtype;
    if (typeof dtype !== "string" || !(dtype in SAFETENSORS_DTYPE_SIZE)) {
      throw new FormatError(`${where}: unknown dtype ${describe(dtype)}; expected one of ${Object.keys(SAFETENSORS_DTYPE_SIZE).join(", ")}`);
    }
    const shape = info.shape;
    if (!Array.isArray(shape) || shape.some((d) => typeof d !== "number" || !Number.isSafeInteger(d) || d < 0)) {
      throw new FormatError(`${where}: shape must be a list of integers >= 0, found ${describe(shape)}`);
    }
    const offs = info.data_offsets;
    if (!Array.isArray(offs) || offs.length !== 2 || offs.some((d) => typeof d !== "number" || !Number.isSafeInteger(d) || d < 0)) {
      throw new FormatError(`${where}: data_offsets must be [begin, end] integers >= 0, found ${describe(offs)}`);
    }
    const [begin, end] = offs as number[];
    if (end < begin) throw new FormatError(`${where}: data_offsets [${begin}, ${end}] end before begin`);
    if (end > dataLength) {
      throw new FormatError(`${where}: data_offsets [${begin}, ${end}] exceed the data region of ${dataLength} bytes (file truncated?)`);
    }
    let count = 1;
    for (const d of shape as number[]) count *= d;
    const nbytes = count * SAFETENSORS_DTYPE_SIZE[dtype];
    if (!Number.isSafeInteger(nbytes) || nbytes !== end - begin) {
      throw new FormatError(`${where}: ${dtype} shape [${shape}] needs ${nbytes} bytes but data_offsets [${begin}, ${end}] span ${end - begin}`);
    }
    entries.push([name, { dtype, shape: (shape as number[]).slice(), begin, end }]);
  }
  // The data region must be covered exactly: sorted by offset, each begins where the last ended.
  const sorted = entries.slice().sort((a, b) => a[1].begin - b[1].begin || a[1].end - b[1].end);
  let pos = 0;
  for (const [name, e] of sorted) {
    if (e.begin !== pos) {
      const what = e.begin < pos ? `overlaps the previous tensor (which ends at ${pos})` : `leaves a gap: the previous tensor ends at ${pos}`;
      throw new FormatError(`${file}: tensor '${name}' data_offsets [${e.begin}, ${e.end}] ${what}; tensors must cover the data region contiguously`);
    }
    pos = e.end;
  }
  if (pos !== dataLength) {
    throw new FormatError(`${file}: tensors cover ${pos} bytes but the data region has ${dataLength} bytes; expected them to cover it exactly`);
  }
  return { tensors: new Map(entries), metadata };
}

/** Reads and validates the header of an open file. */
export function readHeaderFromFd(fd: ReadHandle, file: string): SafetensorsHeader {
  const size = fd.size;
  if (size < 8) throw new FormatError(`${file}: file has ${size} bytes; a safetensors file needs at least 8 (the header length)`);
  const lenBuf = new Uint8Array(8);
  readExactly(fd, lenBuf, 0, file, "the header length");
  const n = new DataView(lenBuf.buffer).getBigUint64(0, true);
  // a pickle's first bytes read as a header length past the end of the file: say what it is
  if (n + 8n > BigInt(size) && looksLikePickle(lenBuf)) {
    throw new FormatError(`${file}: is a PyTorch pickle / torch.save file, not safetensors; peft-ts never unpickles (it can run code): ${conversionHint(file)}`);
  }
  if (n > BigInt(MAX_HEADER_BYTES)) {
    throw new FormatError(`${file}: header length ${n} is larger than the limit of ${MAX_HEADER_BYTES} bytes (corrupt file?)`);
  }
  const hlen = Number(n);
  if (hlen + 8 > size) {
    throw new FormatError(`${file}: header length ${hlen} goes past the end of the file (${size} bytes); expected at most ${size - 8}`);
  }
  if (hlen < 2) throw new FormatError(`${file}: header length ${hlen} is too small for a JSON object`);
  const header = new Uint8Array(hlen);
  readExactly(fd, header, 8, file, "the header");
  const { tensors, metadata } = parseHeader(file, header, size - 8 - hlen);
  return { tensors, metadata, dataOffset: 8 + hlen };
}

/** Reads and validates a safetensors header (no tensor data is read). */
export function readSafetensorsHeader(path: string): SafetensorsHeader {
  const fd = openOrThrow(path);
  try {
    return readHeaderFromFd(fd, path);
  } finally {
    fd.close();
  }
}

/** Opens a safetensors file for reading (a FormatError when missing or not a plain file). */
export function openOrThrow(path: string): ReadHandle {
  try {
    return getFiles().openRead(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "ENOENT") throw new FormatError(`${path}: safetensors file not found`);
    if (code === "EISDIR") throw new FormatError(`${path}: expected a safetensors file, found a directory or special file`);
    throw e;
  }
}
