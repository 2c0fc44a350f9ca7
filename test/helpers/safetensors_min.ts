// A tiny safetensors reader for tests (F32/BF16/F16/I64/I32 → Float32Array), independent of src/io.
import { readFileSync } from "node:fs";
import { bf16BitsToF32, f16BitsToF32 } from "../../src/tensor/dtype.js";

export interface RawTensor {
  dtype: string;
  shape: number[];
  /** Values widened to f32. */
  data: Float32Array;
  /** Raw 16-bit patterns for BF16/F16 tensors. */
  bits?: Uint16Array;
}

export function readSafetensors(path: string): Map<string, RawTensor> {
  const buf = readFileSync(path);
  const n = Number(buf.readBigUInt64LE(0));
  const header = JSON.parse(buf.subarray(8, 8 + n).toString("utf8"));
  const base = 8 + n;
  const out = new Map<string, RawTensor>();
  for (const [name, info] of Object.entries<any>(header)) {
    if (name === "__metadata__") continue;
    const [s, e] = info.data_offsets as [number, number];
    const bytes = buf.subarray(base + s, base + e);
    const copy = new Uint8Array(bytes); // aligned copy
    const count = info.shape.reduce((a: number, b: number) => a * b, 1);
    let data: Float32Array, bits: Uint16Array | undefined;
    switch (info.dtype) {
      case "F32": data = new Float32Array(copy.buffer, 0, count); break;
      case "BF16": bits = new Uint16Array(copy.buffer, 0, count); data = Float32Array.from(bits, bf16BitsToF32); break;
      case "F16": bits = new Uint16Array(copy.buffer, 0, count); data = Float32Array.from(bits, f16BitsToF32); break;
      case "I64": data = Float32Array.from(new BigInt64Array(copy.buffer, 0, count), Number); break;
      case "I32": data = Float32Array.from(new Int32Array(copy.buffer, 0, count)); break;
      default: throw new Error(`safetensors_min: unsupported dtype ${info.dtype} for ${name} in ${path}`);
    }
    out.set(name, { dtype: info.dtype, shape: info.shape, data, bits });
  }
  return out;
}
