// GGUF reading (v2 and v3, little-endian): the header (metadata of every value type, tensor infos,
// alignment) through the platform file interface, so it works in Node and in a browser alike, and
// each tensor's raw bytes. Decoding the ggml block types to floats is src/quant/ggml_blocks.ts.

import type { ReadHandle } from "../platform/files.js";
import { getFiles } from "../platform/files.js";
import { FormatError } from "../tensor/errors.js";
import { readExactly } from "./safetensors_header.js";
import {
  GGML_TYPES, GGUF_DEFAULT_ALIGNMENT, GGUF_MAGIC, GGUF_READ_VERSIONS, GGUF_SCALAR_BYTES, GgufHeader, GgufScalar,
  GgufTensorInfo, GgufType, GgufValue, ggmlTypeName,
} from "./gguf_types.js";

const CHUNK = 1 << 16;
/** Limits that catch a corrupt count before it allocates gigabytes. */
const MAX_STRING_BYTES = 1 << 28;
const MAX_DIMS = 8;

/** Sequential little-endian reads over a ReadHandle with a small buffer; every short read is a FormatError. */
class Cursor {
  pos = 0;
  private buf = new Uint8Array(0);
  private bufStart = 0;
  constructor(private readonly fd: ReadHandle, private readonly file: string) {}

  private ensure(n: number, what: string): DataView {
    if (this.pos < this.bufStart || this.pos + n > this.bufStart + this.buf.length) {
      if (this.pos + n > this.fd.size) {
        throw new FormatError(`${this.file}: truncated GGUF file: ${what} needs ${n} bytes at offset ${this.pos}, but the file has ${this.fd.size} bytes`);
      }
      const len = Math.min(Math.max(n, CHUNK), this.fd.size - this.pos);
      const b = new Uint8Array(len);
      readExactly(this.fd, b, this.pos, this.file, what);
      this.buf = b;
      this.bufStart = this.pos;
    }
    return new DataView(this.buf.buffer, this.buf.byteOffset + (this.pos - this.bufStart), n);
  }
  remaining(): number {
    return this.fd.size - this.pos;
  }
  u32(what: string): number {
    const v = this.ensure(4, what).getUint32(0, true);
    this.pos += 4;
    return v;
  }
  u64(what: string): number {
    const v = this.ensure(8, what).getBigUint64(0, true);
    this.pos += 8;
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new FormatError(`${this.file}: ${what} is ${v} at offset ${this.pos - 8}, beyond any plausible size`);
    return Number(v);
  }
  scalar(type: GgufType, what: string): GgufScalar {
    const width = GGUF_SCALAR_BYTES[type];
    if (width === undefined) throw new FormatError(`${this.file}: ${what} has metadata value type ${type}; expected 0..12`);
    const dv = this.ensure(width, what);
    this.pos += width;
    switch (type) {
      case GgufType.UINT8: return dv.getUint8(0);
      case GgufType.INT8: return dv.getInt8(0);
      case GgufType.UINT16: return dv.getUint16(0, true);
      case GgufType.INT16: return dv.getInt16(0, true);
      case GgufType.UINT32: return dv.getUint32(0, true);
      case GgufType.INT32: return dv.getInt32(0, true);
      case GgufType.FLOAT32: return dv.getFloat32(0, true);
      case GgufType.BOOL: return dv.getUint8(0) !== 0;
      case GgufType.FLOAT64: return dv.getFloat64(0, true);
      case GgufType.UINT64: return safeNumber(dv.getBigUint64(0, true));
      default: return safeNumber(dv.getBigInt64(0, true));
    }
  }
  string(what: string): string {
    const n = this.u64(`${what} (length)`);
    if (n > MAX_STRING_BYTES) throw new FormatError(`${this.file}: ${what} has length ${n} at offset ${this.pos - 8}; expected at most ${MAX_STRING_BYTES}`);
    if (n === 0) return "";
    const dv = this.ensure(n, what);
    this.pos += n;
    return new TextDecoder().decode(new Uint8Array(dv.buffer, dv.byteOffset, n));
  }
}

/** 64-bit integers as numbers when exact, else as bigint. */
function safeNumber(v: bigint): number | bigint {
  return v <= BigInt(Number.MAX_SAFE_INTEGER) && v >= BigInt(Number.MIN_SAFE_INTEGER) ? Number(v) : v;
}

function readValue(c: Cursor, type: number, what: string, file: string): GgufValue {
  if (type === GgufType.STRING) return { type, value: c.string(what) };
  if (type === GgufType.ARRAY) {
    const itemType = c.u32(`${what} (array type)`);
    const n = c.u64(`${what} (array length)`);
    const remaining = c.remaining();
    if (n > remaining) throw new FormatError(`${file}: truncated GGUF file: ${what} claims ${n} array items at offset ${c.pos}, but only ${remaining} bytes follow`);
    if (itemType === GgufType.ARRAY) {
      const items: GgufValue[] = [];
      // items of a nested array carry no type tag of their own: each is (item type, count, items)
      for (let i = 0; i < n; i++) items.push(readValue(c, GgufType.ARRAY, `${what}[${i}]`, file));
      return { type, itemType, value: items };
    }
    const items: GgufScalar[] = new Array(n);
    if (itemType === GgufType.STRING) for (let i = 0; i < n; i++) items[i] = c.string(`${what}[${i}]`);
    else for (let i = 0; i < n; i++) items[i] = c.scalar(itemType, `${what}[${i}]`);
    return { type, itemType, value: items };
  }
  if (GGUF_SCALAR_BYTES[type as GgufType] === undefined) throw new FormatError(`${file}: ${what} has metadata value type ${type}; expected 0..12`);
  return { type: type as GgufType.UINT8, value: c.scalar(type, what) };
}

function openGguf(path: string): ReadHandle {
  try {
    return getFiles().openRead(path);
  } catch (e) {
    const code = (e as { code?: string }).code;
    if (code === "ENOENT") throw new FormatError(`${path}: GGUF file not found`);
    if (code === "EISDIR") throw new FormatError(`${path}: expected a GGUF file, found a directory`);
    throw e;
  }
}

/** Parses the header from an open file. */
export function readGgufHeaderFrom(fd: ReadHandle, file: string): GgufHeader {
  const c = new Cursor(fd, file);
  if (fd.size < 4) throw new FormatError(`${file}: truncated GGUF file: ${fd.size} bytes; expected at least 24 (magic, version, counts)`);
  const magic = c.u32("magic");
  if (magic !== GGUF_MAGIC) {
    const got = [0, 8, 16, 24].map((s) => (magic >>> s) & 0xff).map((b) => (b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : `\\x${b.toString(16).padStart(2, "0")}`)).join("");
    throw new FormatError(`${file}: not a GGUF file: the magic is "${got}"; expected "GGUF"`);
  }
  const version = c.u32("version");
  if (!GGUF_READ_VERSIONS.includes(version)) {
    const hint = (version & 0xffff) === 0 ? " (a big-endian GGUF file; only little-endian files are supported)" : "";
    throw new FormatError(`${file}: unsupported GGUF version ${version}${hint}; expected ${GGUF_READ_VERSIONS.join(" or ")}`);
  }
  const nTensors = c.u64("tensor_count");
  const nKv = c.u64("metadata_kv_count");
  if (nTensors > fd.size || nKv > fd.size) throw new FormatError(`${file}: truncated or corrupt GGUF header: ${nTensors} tensors and ${nKv} metadata entries cannot fit in ${fd.size} bytes`);
  const metadata = new Map<string, GgufValue>();
  for (let i = 0; i < nKv; i++) {
    const key = c.string(`metadata key ${i}`);
    const type = c.u32(`metadata '${key}' (type)`);
    metadata.set(key, readValue(c, type, `metadata '${key}'`, file));
  }
  const raw: { name: string; shape: number[]; type: number; offset: number }[] = [];
  for (let i = 0; i < nTensors; i++) {
    const name = c.string(`tensor info ${i} (name)`);
    const nDims = c.u32(`tensor '${name}' (n_dims)`);
    if (nDims > MAX_DIMS) throw new FormatError(`${file}: tensor '${name}' has ${nDims} dimensions; expected at most ${MAX_DIMS}`);
    const ne: number[] = [];
    for (let d = 0; d < nDims; d++) ne.push(c.u64(`tensor '${name}' (dimension ${d})`));
    const type = c.u32(`tensor '${name}' (type)`);
    const offset = c.u64(`tensor '${name}' (offset)`);
    raw.push({ name, shape: ne.reverse(), type, offset });
  }
  const alignment = alignmentOf(metadata, file);
  const dataOffset = Math.ceil(c.pos / alignment) * alignment;
  const tensors: GgufTensorInfo[] = raw.map((t) => {
    const info = GGML_TYPES[t.type];
    if (!info) throw new FormatError(`${file}: tensor '${t.name}' has unknown ggml type ${t.type}`);
    const cols = t.shape.length ? t.shape[t.shape.length - 1] : 1;
    if (cols % info.blockSize !== 0) throw new FormatError(`${file}: tensor '${t.name}' (${info.name}) has rows of ${cols} elements, not a multiple of the block size ${info.blockSize}`);
    const count = t.shape.reduce((a, b) => a * b, 1);
    const byteLength = (count / info.blockSize) * info.typeSize;
    if (t.offset % alignment !== 0) throw new FormatError(`${file}: tensor '${t.name}' has data offset ${t.offset}, not a multiple of the alignment ${alignment}`);
    if (dataOffset + t.offset + byteLength > fd.size) {
      throw new FormatError(`${file}: tensor '${t.name}' (${info.name}, shape [${t.shape.join(", ")}]) needs bytes ${dataOffset + t.offset}..${dataOffset + t.offset + byteLength}, outside the file of ${fd.size} bytes (truncated?)`);
    }
    return { ...t, byteLength };
  });
  return { version, metadata, tensors, alignment, dataOffset, fileSize: fd.size };
}

function alignmentOf(metadata: Map<string, GgufValue>, file: string): number {
  const v = metadata.get("general.alignment");
  if (!v) return GGUF_DEFAULT_ALIGNMENT;
  const n = v.value as number;
  if (v.type !== GgufType.UINT32 || n === 0 || (n & (n - 1)) !== 0) {
    throw new FormatError(`${file}: metadata 'general.alignment' is ${JSON.stringify(v.value)} (type ${v.type}); expected a power of two as UINT32`);
  }
  return n;
}

/** Reads a GGUF file's header (metadata and tensor infos), not the tensor data. */
export function readGgufHeader(path: string): GgufHeader {
  const fd = openGguf(path);
  try {
    return readGgufHeaderFrom(fd, path);
  } finally {
    fd.close();
  }
}

/** A GGUF file open for reading tensors: the header plus raw data reads. Close it when done. */
export class GgufFile {
  readonly header: GgufHeader;
  private readonly fd: ReadHandle;
  private readonly byName = new Map<string, GgufTensorInfo>();
  constructor(readonly path: string) {
    this.fd = openGguf(path);
    try {
      this.header = readGgufHeaderFrom(this.fd, path);
    } catch (e) {
      this.fd.close();
      throw e;
    }
    for (const t of this.header.tensors) this.byName.set(t.name, t);
  }
  get metadata(): Map<string, GgufValue> {
    return this.header.metadata;
  }
  get tensors(): GgufTensorInfo[] {
    return this.header.tensors;
  }
  tensor(name: string): GgufTensorInfo | undefined {
    return this.byName.get(name);
  }
  /** The raw bytes of a tensor as stored (ggml blocks, little-endian). */
  rawBytes(t: GgufTensorInfo | string): Uint8Array {
    const info = typeof t === "string" ? this.byName.get(t) : t;
    if (!info) throw new FormatError(`${this.path}: tensor '${String(t)}' not found in the GGUF file`);
    const out = new Uint8Array(info.byteLength);
    readExactly(this.fd, out, this.header.dataOffset + info.offset, this.path, `tensor '${info.name}' (${ggmlTypeName(info.type)})`);
    return out;
  }
  close(): void {
    this.fd.close();
  }
}

/** A metadata value as a plain JS value (arrays as arrays), or undefined. */
export function ggufPlain(v: GgufValue | undefined): unknown {
  if (!v) return undefined;
  if (v.type === GgufType.ARRAY && v.itemType === GgufType.ARRAY) return (v.value as GgufValue[]).map(ggufPlain);
  return v.value;
}
