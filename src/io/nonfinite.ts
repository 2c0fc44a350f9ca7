// NaN/Inf in loaded float weights: accepted (a model may be meant to be repaired or inspected)
// but reported once per file and tensor through process.emitWarning, naming both. The scan is
// one pass over the raw bits, stopping at the first non-finite value.

import { emitWarning } from "../platform/env.js";

const warned = new Set<string>();

/** Index of the first NaN/Inf in a tensor's raw storage for a safetensors float dtype, or -1. */
export function firstNonFinite(dtype: string, raw: ArrayBufferView): number {
  if (dtype === "F32" || dtype === "F64") {
    const a = raw as Float32Array | Float64Array;
    for (let i = 0; i < a.length; i++) if (a[i] - a[i] !== 0) return i;
    return -1;
  }
  // 16-bit floats: the exponent all ones means Inf or NaN
  const mask = dtype === "BF16" ? 0x7f80 : dtype === "F16" ? 0x7c00 : 0;
  if (!mask) return -1;
  const a = raw as Uint16Array;
  for (let i = 0; i < a.length; i++) if ((a[i] & mask) === mask) return i;
  return -1;
}

/** Warns (once per file and tensor) when a float tensor holds NaN or Inf. */
export function warnNonFinite(file: string, name: string, dtype: string, raw: ArrayBufferView): void {
  const at = firstNonFinite(dtype, raw);
  if (at < 0) return;
  const key = `${file}\0${name}`;
  if (warned.has(key)) return;
  warned.add(key);
  emitWarning(`${file}: tensor '${name}' (${dtype}) holds NaN or Inf (first at flat index ${at}); it is loaded as is`, "PEFT_TS_NONFINITE_WEIGHTS");
}
