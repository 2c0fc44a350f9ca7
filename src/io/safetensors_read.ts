// safetensors reading: loads a file's tensors (all, or the selected ones) and converts file dtypes to Tensor dtypes.

import { Tensor, shapeSize } from "../tensor/tensor.js";
import { bf16ArrayToF32, f16ArrayToF32, f32ArrayToBf16 } from "../tensor/dtype.js";
import { FormatError } from "../tensor/errors.js";
import { LITTLE_ENDIAN, swapBytesInPlace } from "./byte_order.js";
import { warnNonFinite } from "./nonfinite.js";
import { openOrThrow, readExactly, readHeaderFromFd, SafetensorsEntry, SafetensorsHeader } from "./safetensors_header.js";
import type { ReadHandle } from "../platform/files.js";

export interface LoadSafetensorsOptions {
  /** Only these tensors (a list: each must exist; a predicate: those it accepts). */
  names?: string[] | ((name: string) => boolean);
  /** "f32" (default): floats become f32. "keep": bf16/f16 keep their storage dtype. */
  dtype?: "f32" | "keep";
  /** Float tensors for which this returns true are stored as bf16 (e.g. frozen weights). */
  bf16?: (name: string) => boolean;
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
function readRaw(fd: ReadHandle, file: string, name: string, header: SafetensorsHeader, e: SafetensorsEntry): ArrayBufferView {
  const count = shapeSize(e.shape);
  const raw = rawArray(e.dtype, count);
  if (!raw) throw new FormatError(`${file}: tensor '${name}' has dtype ${e.dtype}, which cannot be loaded (8-bit floats are not supported)`);
  const { arr, width } = raw;
  const bytes = new Uint8Array(arr.buffer, arr.byteOffset, arr.byteLength);
  readExactly(fd, bytes, header.dataOffset + e.begin, file, `tensor '${name}'`);
  if (!LITTLE_ENDIAN) swapBytesInPlace(bytes, width);
  warnNonFinite(file, name, e.dtype, arr);
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
    fd.close();
  }
}
