// safetensors reader/writer (https://huggingface.co/docs/safetensors).
// Layout: u64 little-endian header length N, N bytes of JSON header, then the data region.
// The header maps names to {dtype, shape, data_offsets:[begin,end]} (relative to the data
// region) plus an optional "__metadata__" string→string map. Everything is validated before use.
//
// Reading converts on the way in; dtype mapping (default dtype "f32"):
//   F32/F16/BF16 → f32 (or kept as f16/bf16 with dtype "keep", or bf16 where opts.bf16(name))
//   F64 → f32 (precision loss; we compute in f32)   I64 → i64   U64 → i64 (error if > 2^63-1)
//   I32 → i32   U32 → i64   I16/U16/I8 → i32   U8 → u8   BOOL → bool
// Writing supports the Tensor dtypes F32/BF16/F16/I64/I32/U8/BOOL and reproduces the Rust
// writer's layout byte for byte: tensors ordered by dtype (larger alignment first) then name,
// header JSON padded with spaces to a multiple of 8.

import { closeSync, existsSync, fstatSync, openSync, readFileSync, readSync } from "node:fs";
import { endianness } from "node:os";
import { join } from "node:path";
import { Tensor, shapeSize } from "../tensor/tensor.js";
import { DType, Storage, bf16ArrayToF32, f16ArrayToF32, f32ArrayToBf16 } from "../tensor/dtype.js";
import { ConfigError, FormatError } from "../tensor/errors.js";
import { atomicWriteWith, writeAllSync } from "./fs.js";
import { JsonSyntaxError, parseStrictJson } from "./json.js";

/** Element size in bytes per safetensors dtype. */
export const SAFETENSORS_DTYPE_SIZE: Readonly<Record<string, number>> = {
  BOOL: 1, U8: 1, I8: 1, F8_E5M2: 1, F8_E4M3: 1, I16: 2, U16: 2, F16: 2, BF16: 2,
  I32: 4, U32: 4, F32: 4, F64: 8, I64: 8, U64: 8,
};

// The Rust writer sorts by this enum order, descending (largest alignment first), then by name.
const DTYPE_RANK: Readonly<Record<string, number>> = {
  BOOL: 0, F4: 1, F6_E2M3: 2, F6_E3M2: 3, U8: 4, I8: 5, F8_E5M2: 6, F8_E4M3: 7, F8_E8M0: 8,
  I16: 9, U16: 10, F16: 11, BF16: 12, I32: 13, U32: 14, F32: 15, C64: 16, F64: 17, I64: 18, U64: 19,
};

const TENSOR_TO_ST: Readonly<Record<DType, string>> = {
  f32: "F32", bf16: "BF16", f16: "F16", i64: "I64", i32: "I32", u8: "U8", bool: "BOOL",
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

export interface LoadSafetensorsOptions {
  /** Only these tensors (a list: each must exist; a predicate: those it accepts). */
  names?: string[] | ((name: string) => boolean);
  /** "f32" (default): floats become f32. "keep": bf16/f16 keep their storage dtype. */
  dtype?: "f32" | "keep";
  /** Float tensors for which this returns true are stored as bf16 (e.g. frozen weights). */
  bf16?: (name: string) => boolean;
}

const LITTLE_ENDIAN = endianness() === "LE";

function swapBytesInPlace(bytes: Uint8Array, width: number): void {
  if (width === 1) return;
  for (let i = 0; i + width <= bytes.length; i += width) {
    for (let a = i, b = i + width - 1; a < b; a++, b--) {
      const t = bytes[a];
      bytes[a] = bytes[b];
      bytes[b] = t;
    }
  }
}

function readExactly(fd: number, dst: Uint8Array, position: number, file: string, what: string): void {
  let done = 0;
  while (done < dst.length) {
    const want = Math.min(dst.length - done, 1 << 30);
    const got = readSync(fd, dst, done, want, position + done);
    if (got <= 0) {
      throw new FormatError(`${file}: unexpected end of file while reading ${what}: expected ${dst.length} bytes at offset ${position}, got ${done}`);
    }
    done += got;
  }
}

function describe(v: unknown): string {
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

function readHeaderFromFd(fd: number, file: string): SafetensorsHeader {
  const size = fstatSync(fd).size;
  if (size < 8) throw new FormatError(`${file}: file has ${size} bytes; a safetensors file needs at least 8 (the header length)`);
  const lenBuf = new Uint8Array(8);
  readExactly(fd, lenBuf, 0, file, "the header length");
  const n = new DataView(lenBuf.buffer).getBigUint64(0, true);
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
    closeSync(fd);
  }
}

function openOrThrow(path: string): number {
  let fd: number;
  try {
    fd = openSync(path, "r");
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "ENOENT") throw new FormatError(`${path}: safetensors file not found`);
    throw e;
  }
  if (!fstatSync(fd).isFile()) {
    closeSync(fd);
    throw new FormatError(`${path}: expected a safetensors file, found a directory or special file`);
  }
  return fd;
}

/** Allocates the storage a file dtype is read into (raw, before any conversion). */
function rawArray(dtype: string, count: number): { arr: ArrayBufferView & { length: number }; width: number } | null {
  switch (dtype) {
    case "F32": return { arr: new Float32Array(count), width: 4 };
    case "F64": return { arr: new Float64Array(count), width: 8 };
    case "F16": case "BF16": case "U16": return { arr: new Uint16Array(count), width: 2 };
    case "I16": return { arr: new Int16Array(count), width: 2 };
    case "I32": return { arr: new Int32Array(count), width: 4 };
    case "U32": return { arr: new Uint32Array(count), width: 4 };
    case "I64": return { arr: new BigInt64Array(count), width: 8 };
    case "U64": return { arr: new BigUint64Array(count), width: 8 };
    case "I8": return { arr: new Int8Array(count), width: 1 };
    case "U8": case "BOOL": return { arr: new Uint8Array(count), width: 1 };
    default: return null;
  }
}

function convert(file: string, name: string, e: SafetensorsEntry, raw: ArrayBufferView, opts: LoadSafetensorsOptions): Tensor {
  const shape = e.shape;
  const wantBf16 = opts.bf16 ? opts.bf16(name) : false;
  const keep = opts.dtype === "keep";
  switch (e.dtype) {
    case "F32": {
      const a = raw as Float32Array;
      return wantBf16 ? new Tensor(f32ArrayToBf16(a), shape, "bf16") : new Tensor(a, shape, "f32");
    }
    case "BF16": {
      const a = raw as Uint16Array;
      return wantBf16 || keep ? new Tensor(a, shape, "bf16") : new Tensor(bf16ArrayToF32(a), shape, "f32");
    }
    case "F16": {
      const a = raw as Uint16Array;
      if (wantBf16) return new Tensor(f32ArrayToBf16(f16ArrayToF32(a)), shape, "bf16");
      return keep ? new Tensor(a, shape, "f16") : new Tensor(f16ArrayToF32(a), shape, "f32");
    }
    case "F64": {
      const f = Float32Array.from(raw as Float64Array);
      return wantBf16 ? new Tensor(f32ArrayToBf16(f), shape, "bf16") : new Tensor(f, shape, "f32");
    }
    case "I64": return new Tensor(raw as BigInt64Array, shape, "i64");
    case "U64": {
      const u = raw as BigUint64Array;
      const out = new BigInt64Array(u.length);
      for (let i = 0; i < u.length; i++) {
        if (u[i] > 0x7fffffffffffffffn) throw new FormatError(`${file}: tensor '${name}' (U64) holds ${u[i]} at index ${i}, which does not fit in i64`);
        out[i] = u[i];
      }
      return new Tensor(out, shape, "i64");
    }
    case "U32": return new Tensor(BigInt64Array.from(raw as Uint32Array, (x) => BigInt(x)), shape, "i64");
    case "I32": return new Tensor(raw as Int32Array, shape, "i32");
    case "I16": case "U16": case "I8": return new Tensor(Int32Array.from(raw as Int16Array), shape, "i32");
    case "U8": return new Tensor(raw as Uint8Array, shape, "u8");
    case "BOOL": return new Tensor(raw as Uint8Array, shape, "bool");
  }
  throw new FormatError(`${file}: tensor '${name}' has dtype ${e.dtype}, which cannot be loaded`);
}

function selectNames(file: string, header: SafetensorsHeader, names: LoadSafetensorsOptions["names"]): string[] {
  const all = [...header.tensors.keys()];
  if (names === undefined) return all;
  if (typeof names === "function") return all.filter(names);
  for (const n of names) {
    if (!header.tensors.has(n)) {
      throw new FormatError(`${file}: tensor '${n}' not found; the file has ${all.length} tensors${all.length ? ` (e.g. ${all.slice(0, 5).join(", ")})` : ""}`);
    }
  }
  return [...new Set(names)];
}

/** Reads one tensor's raw data with a positioned read into an aligned buffer. */
function readRaw(fd: number, file: string, name: string, header: SafetensorsHeader, e: SafetensorsEntry): ArrayBufferView {
  const count = shapeSize(e.shape);
  const raw = rawArray(e.dtype, count);
  if (!raw) throw new FormatError(`${file}: tensor '${name}' has dtype ${e.dtype}, which cannot be loaded (8-bit floats are not supported)`);
  const { arr, width } = raw;
  const bytes = new Uint8Array(arr.buffer, arr.byteOffset, arr.byteLength);
  readExactly(fd, bytes, header.dataOffset + e.begin, file, `tensor '${name}'`);
  if (!LITTLE_ENDIAN) swapBytesInPlace(bytes, width);
  return arr;
}

/** Loads tensors from a .safetensors file (synchronous; reads only the requested tensors). */
export function loadSafetensors(path: string, opts: LoadSafetensorsOptions = {}): Map<string, Tensor> {
  const fd = openOrThrow(path);
  try {
    const header = readHeaderFromFd(fd, path);
    const out = new Map<string, Tensor>();
    for (const name of selectNames(path, header, opts.names)) {
      const e = header.tensors.get(name)!;
      const t = convert(path, name, e, readRaw(fd, path, name, header, e), opts);
      t.name = name;
      out.set(name, t);
    }
    return out;
  } finally {
    closeSync(fd);
  }
}

export const SAFETENSORS_SINGLE = "model.safetensors";
export const SAFETENSORS_INDEX = "model.safetensors.index.json";

/** Reads and validates a sharded index (`weight_map`: tensor name → shard file name). */
export function readSafetensorsIndex(indexPath: string): { weightMap: Map<string, string>; metadata: Record<string, unknown> } {
  let parsed: unknown;
  try {
    parsed = parseStrictJson(readFileSync(indexPath, "utf8"));
  } catch (e) {
    if (e instanceof JsonSyntaxError) throw new FormatError(`${indexPath}: not valid JSON: ${e.message}`);
    throw e;
  }
  if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) throw new FormatError(`${indexPath}: expected a JSON object`);
  const wm = (parsed as Record<string, unknown>).weight_map;
  if (wm === null || typeof wm !== "object" || Array.isArray(wm)) {
    throw new FormatError(`${indexPath}: "weight_map" must be an object of tensor name → shard file, found ${describe(wm)}`);
  }
  const weightMap = new Map<string, string>();
  for (const [k, v] of Object.entries(wm as Record<string, unknown>)) {
    if (typeof v !== "string" || v === "" || v.includes("/") || v.includes("\\") || v === "." || v === "..") {
      throw new FormatError(`${indexPath}: weight_map["${k}"] must be a shard file name in the same folder, found ${describe(v)}`);
    }
    weightMap.set(k, v);
  }
  const md = (parsed as Record<string, unknown>).metadata;
  return { weightMap, metadata: md && typeof md === "object" && !Array.isArray(md) ? { ...(md as Record<string, unknown>) } : {} };
}

/**
 * Loads a model folder's weights: `model.safetensors`, or the shards listed by
 * `model.safetensors.index.json` (merged into one Map). Each tensor must be in the shard the
 * index names. `names` filters as in loadSafetensors.
 */
export function loadSafetensorsDir(dir: string, opts: LoadSafetensorsOptions = {}): Map<string, Tensor> {
  const single = join(dir, SAFETENSORS_SINGLE);
  const index = join(dir, SAFETENSORS_INDEX);
  if (existsSync(single)) return loadSafetensors(single, opts);
  if (!existsSync(index)) {
    throw new ConfigError(`${dir}: no ${SAFETENSORS_SINGLE} or ${SAFETENSORS_INDEX} found; expected the model weights in safetensors format`);
  }
  const { weightMap } = readSafetensorsIndex(index);
  let wanted: string[];
  if (opts.names === undefined) wanted = [...weightMap.keys()];
  else if (typeof opts.names === "function") wanted = [...weightMap.keys()].filter(opts.names);
  else {
    for (const n of opts.names) if (!weightMap.has(n)) throw new FormatError(`${index}: tensor '${n}' is not in weight_map`);
    wanted = [...new Set(opts.names)];
  }
  const byShard = new Map<string, string[]>();
  for (const n of wanted) {
    const s = weightMap.get(n)!;
    if (!byShard.has(s)) byShard.set(s, []);
    byShard.get(s)!.push(n);
  }
  const out = new Map<string, Tensor>();
  for (const [shard, names] of byShard) {
    const p = join(dir, shard);
    if (!existsSync(p)) throw new FormatError(`${index}: shard '${shard}' (holding e.g. '${names[0]}') is missing from ${dir}`);
    const header = readSafetensorsHeader(p);
    for (const n of names) {
      if (!header.tensors.has(n)) throw new FormatError(`${index}: weight_map puts '${n}' in shard '${shard}', but ${p} has no such tensor`);
    }
    for (const [k, v] of loadSafetensors(p, { ...opts, names })) out.set(k, v);
  }
  return out;
}

function tensorBytes(t: Tensor): Uint8Array {
  const d = t.data as Storage; // contiguous (a copy for strided views)
  const bytes = new Uint8Array(d.buffer, d.byteOffset, d.byteLength);
  if (LITTLE_ENDIAN) return bytes;
  const copy = bytes.slice();
  swapBytesInPlace(copy, d.BYTES_PER_ELEMENT);
  return copy;
}

/** The header JSON exactly as the Rust writer produces it, and the data order. */
function buildHeader(file: string, entries: [string, Tensor][], metadata: Record<string, string> | null): { header: Uint8Array; order: [string, Tensor][] } {
  const order = entries.slice().sort((a, b) => {
    const ra = DTYPE_RANK[TENSOR_TO_ST[a[1].dtype]], rb = DTYPE_RANK[TENSOR_TO_ST[b[1].dtype]];
    if (ra !== rb) return rb - ra;
    return a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0;
  });
  const parts: string[] = [];
  if (metadata) {
    const md = Object.keys(metadata).sort().map((k) => {
      if (typeof metadata[k] !== "string") throw new ConfigError(`saveSafetensors(${file}): metadata["${k}"] must be a string`);
      return `${JSON.stringify(k)}:${JSON.stringify(metadata[k])}`;
    });
    parts.push(`"__metadata__":{${md.join(",")}}`);
  }
  let offset = 0;
  for (const [name, t] of order) {
    const n = t.size * (SAFETENSORS_DTYPE_SIZE[TENSOR_TO_ST[t.dtype]]);
    parts.push(`${JSON.stringify(name)}:{"dtype":"${TENSOR_TO_ST[t.dtype]}","shape":[${t.shape.join(",")}],"data_offsets":[${offset},${offset + n}]}`);
    offset += n;
  }
  let json = `{${parts.join(",")}}`;
  const len = new TextEncoder().encode(json).length;
  json += " ".repeat((8 - (len % 8)) % 8);
  return { header: new TextEncoder().encode(json), order };
}

/**
 * Writes tensors to a .safetensors file atomically. `metadata` defaults to {"format":"pt"}
 * (what transformers/peft write for model and adapter files); pass null for no metadata.
 */
export function saveSafetensors(
  path: string,
  tensors: Map<string, Tensor> | Record<string, Tensor>,
  metadata: Record<string, string> | null = { format: "pt" },
): void {
  const entries: [string, Tensor][] = tensors instanceof Map ? [...tensors.entries()] : Object.entries(tensors);
  for (const [name, t] of entries) {
    if (name === "__metadata__") throw new ConfigError(`saveSafetensors(${path}): '__metadata__' is reserved and cannot be a tensor name`);
    if (!(t instanceof Tensor)) throw new ConfigError(`saveSafetensors(${path}): '${name}' is not a Tensor`);
    if (!(t.dtype in TENSOR_TO_ST)) throw new ConfigError(`saveSafetensors(${path}): tensor '${name}' has unsupported dtype ${t.dtype}`);
  }
  const { header, order } = buildHeader(path, entries, metadata);
  const lenBytes = new Uint8Array(8);
  new DataView(lenBytes.buffer).setBigUint64(0, BigInt(header.length), true);
  atomicWriteWith(path, (fd) => {
    // Small writes are gathered into one buffer; large tensors are written directly.
    const pending: Uint8Array[] = [lenBytes, header];
    let pendingBytes = 8 + header.length;
    const flush = () => {
      if (pending.length === 0) return;
      const buf = new Uint8Array(pendingBytes);
      let o = 0;
      for (const p of pending) { buf.set(p, o); o += p.length; }
      writeAllSync(fd, buf);
      pending.length = 0;
      pendingBytes = 0;
    };
    for (const [, t] of order) {
      const b = tensorBytes(t);
      if (b.length >= 1 << 20) {
        flush();
        writeAllSync(fd, b);
      } else {
        pending.push(b);
        pendingBytes += b.length;
        if (pendingBytes >= 1 << 22) flush();
      }
    }
    flush();
  });
}
