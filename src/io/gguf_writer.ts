// GGUF writing (v3, little-endian): metadata of every value type, tensor infos, data aligned to
// `general.alignment` (default 32), written atomically through the platform file interface.

import { FormatError } from "../tensor/errors.js";
import { atomicWriteWith } from "./fs.js";
import { GGML_TYPES, GGUF_DEFAULT_ALIGNMENT, GGUF_MAGIC, GGUF_SCALAR_BYTES, GGUF_VERSION, GgufScalar, GgufType, GgufValue } from "./gguf_types.js";

export interface GgufWriteTensor {
  name: string;
  /** Row-major shape, outermost first (written to the file reversed, as ggml's ne[]). */
  shape: number[];
  /** ggml type number. */
  type: number;
  /** The tensor's bytes as ggml stores them (blocks for quantised types). */
  data: Uint8Array;
}

export interface GgufWriteInput {
  /** Metadata in file order. A `general.alignment` entry sets the alignment. */
  metadata: Map<string, GgufValue> | [string, GgufValue][];
  tensors: GgufWriteTensor[];
}

/** Growable little-endian byte buffer. */
class Bytes {
  private buf = new Uint8Array(1024);
  private dv = new DataView(this.buf.buffer);
  length = 0;
  private room(n: number): void {
    if (this.length + n <= this.buf.length) return;
    let cap = this.buf.length * 2;
    while (cap < this.length + n) cap *= 2;
    const b = new Uint8Array(cap);
    b.set(this.buf.subarray(0, this.length));
    this.buf = b;
    this.dv = new DataView(b.buffer);
  }
  u32(v: number): void {
    this.room(4);
    this.dv.setUint32(this.length, v, true);
    this.length += 4;
  }
  u64(v: number | bigint): void {
    this.room(8);
    this.dv.setBigUint64(this.length, BigInt(v), true);
    this.length += 8;
  }
  bytes(b: Uint8Array): void {
    this.room(b.length);
    this.buf.set(b, this.length);
    this.length += b.length;
  }
  string(s: string): void {
    const b = new TextEncoder().encode(s);
    this.u64(b.length);
    this.bytes(b);
  }
  scalar(type: GgufType, v: GgufScalar, key: string): void {
    const w = GGUF_SCALAR_BYTES[type];
    if (w === undefined) throw new FormatError(`GGUF metadata '${key}': type ${type} is not a scalar type`);
    this.room(w);
    const dv = this.dv, o = this.length;
    const n = typeof v === "boolean" ? (v ? 1 : 0) : v;
    if (typeof n === "string") throw new FormatError(`GGUF metadata '${key}': a string where type ${GgufType[type]} needs a number`);
    switch (type) {
      case GgufType.UINT8: case GgufType.BOOL: dv.setUint8(o, Number(n)); break;
      case GgufType.INT8: dv.setInt8(o, Number(n)); break;
      case GgufType.UINT16: dv.setUint16(o, Number(n), true); break;
      case GgufType.INT16: dv.setInt16(o, Number(n), true); break;
      case GgufType.UINT32: dv.setUint32(o, Number(n), true); break;
      case GgufType.INT32: dv.setInt32(o, Number(n), true); break;
      case GgufType.FLOAT32: dv.setFloat32(o, Number(n), true); break;
      case GgufType.FLOAT64: dv.setFloat64(o, Number(n), true); break;
      case GgufType.UINT64: dv.setBigUint64(o, BigInt(n), true); break;
      case GgufType.INT64: dv.setBigInt64(o, BigInt(n), true); break;
    }
    this.length += w;
  }
  value(v: GgufValue, key: string): void {
    if (v.type === GgufType.STRING) return this.string(String(v.value));
    if (v.type === GgufType.ARRAY) {
      this.u32(v.itemType);
      this.u64(v.value.length);
      for (const item of v.value) {
        if (v.itemType === GgufType.ARRAY) {
          const inner = item as GgufValue;
          if (inner.type !== GgufType.ARRAY) throw new FormatError(`GGUF metadata '${key}': an item of an array of arrays is not an array`);
          this.value(inner, key); // no type tag per item: each is (item type, count, items)
        } else if (v.itemType === GgufType.STRING) this.string(String(item));
        else this.scalar(v.itemType, item as GgufScalar, key);
      }
      return;
    }
    this.scalar(v.type, v.value, key);
  }
  pad(alignment: number): void {
    const n = (alignment - (this.length % alignment)) % alignment;
    this.bytes(new Uint8Array(n));
  }
  view(): Uint8Array {
    return this.buf.subarray(0, this.length);
  }
}

/** The header bytes (up to the aligned start of the data) and each tensor's offset. */
function encodeHeader(input: GgufWriteInput): { header: Uint8Array; alignment: number; offsets: number[] } {
  const meta = input.metadata instanceof Map ? [...input.metadata] : input.metadata;
  const align = meta.find(([k]) => k === "general.alignment")?.[1];
  const alignment = align ? Number(align.value) : GGUF_DEFAULT_ALIGNMENT;
  if (align && (align.type !== GgufType.UINT32 || alignment <= 0 || (alignment & (alignment - 1)) !== 0)) {
    throw new FormatError(`GGUF metadata 'general.alignment' must be a power of two as UINT32; got ${String(align.value)}`);
  }
  const dup = (names: string[], what: string) => {
    const seen = new Set<string>();
    for (const n of names) {
      if (seen.has(n)) throw new FormatError(`GGUF: ${what} '${n}' appears twice`);
      seen.add(n);
    }
  };
  dup(meta.map(([k]) => k), "metadata key");
  dup(input.tensors.map((t) => t.name), "tensor");
  const b = new Bytes();
  b.u32(GGUF_MAGIC);
  b.u32(GGUF_VERSION);
  b.u64(input.tensors.length);
  b.u64(meta.length);
  for (const [k, v] of meta) {
    b.string(k);
    b.u32(v.type);
    b.value(v, k);
  }
  const offsets: number[] = [];
  let off = 0;
  for (const t of input.tensors) {
    const info = GGML_TYPES[t.type];
    if (!info) throw new FormatError(`GGUF tensor '${t.name}': unknown ggml type ${t.type}`);
    const count = t.shape.reduce((a, c) => a * c, 1);
    const cols = t.shape.length ? t.shape[t.shape.length - 1] : 1;
    const want = (count / info.blockSize) * info.typeSize;
    if (cols % info.blockSize !== 0 || t.data.length !== want) {
      throw new FormatError(`GGUF tensor '${t.name}' (${info.name}, shape [${t.shape.join(", ")}]): ${t.data.length} data bytes; expected ${want} (rows a multiple of ${info.blockSize})`);
    }
    b.string(t.name);
    b.u32(t.shape.length);
    for (const d of [...t.shape].reverse()) b.u64(d);
    b.u32(t.type);
    b.u64(off);
    offsets.push(off);
    off += Math.ceil(t.data.length / alignment) * alignment;
  }
  b.pad(alignment);
  return { header: b.view(), alignment, offsets };
}

/** Writes a GGUF v3 file atomically. */
export function writeGguf(path: string, input: GgufWriteInput): void {
  const { header, alignment } = encodeHeader(input);
  atomicWriteWith(path, (out) => {
    out.write(header);
    for (const t of input.tensors) {
      out.write(t.data);
      const pad = (alignment - (t.data.length % alignment)) % alignment;
      if (pad) out.write(new Uint8Array(pad));
    }
  });
}

/** Shorthands for metadata values. */
export const gguf = {
  str: (value: string): GgufValue => ({ type: GgufType.STRING, value }),
  u32: (value: number): GgufValue => ({ type: GgufType.UINT32, value }),
  i32: (value: number): GgufValue => ({ type: GgufType.INT32, value }),
  f32: (value: number): GgufValue => ({ type: GgufType.FLOAT32, value }),
  bool: (value: boolean): GgufValue => ({ type: GgufType.BOOL, value }),
  strs: (value: string[]): GgufValue => ({ type: GgufType.ARRAY, itemType: GgufType.STRING, value }),
  f32s: (value: ArrayLike<number>): GgufValue => ({ type: GgufType.ARRAY, itemType: GgufType.FLOAT32, value: Array.from(value) }),
  i32s: (value: ArrayLike<number>): GgufValue => ({ type: GgufType.ARRAY, itemType: GgufType.INT32, value: Array.from(value) }),
};
