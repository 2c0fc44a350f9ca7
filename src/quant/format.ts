// The pluggable storage-format interface for frozen Linear weights, and the registry of formats.
// A QuantMatrix is the stored form of one [rows, cols] weight (nn.Linear layout [out, in]); a
// QuantFormat knows how to make one from f32 values and how to turn any range of its rows back into
// f32. The GEMM kernels (backend quantMatmul) only ever ask for a few rows at a time (a row block in
// a small scratch), so no full dequantised copy of a weight exists during forward or backward.
// Formats register themselves by name; a backend with its own kernel for a format (the native addon
// for int8/nf4/fp4) uses it, any other format (e.g. GGUF's Q8_0 / Q4_0 later) runs through
// dequantizeRows in the TS reference kernel.

import { ConfigError } from "../tensor/errors.js";

/** Absmax constants stored in 8 bits themselves (QLoRA's double quantisation). */
export interface NestedAbsmax {
  /** Code index (bitsandbytes' signed dynamic 8-bit code) of (absmax − offset) / absmax2 per block. */
  q: Uint8Array;
  /** f32 absmax of each block of `blockSize` first-level constants. */
  absmax2: Float32Array;
  /** The mean of the first-level constants, subtracted before quantising them. */
  offset: number;
  blockSize: number;
}

/** One quantised weight matrix (row-major over [rows, cols], blocks run over the flattened values). */
export interface QuantMatrix {
  /** Registered format name ("int8", "nf4", "fp4", …). */
  format: string;
  rows: number;
  cols: number;
  /** Values per absmax constant (cols for the per-row int8 format). */
  blockSize: number;
  /** Packed codes: one byte per value (int8) or two 4-bit codes per byte, the first in the high nibble. */
  data: Uint8Array;
  /** f32 constants per block; null when they are double-quantised (see nested). */
  absmax: Float32Array | null;
  nested: NestedAbsmax | null;
}

export interface QuantizeOptions {
  /** Values per constant (block formats; default 64). */
  blockSize?: number;
  /** Quantise the constants again in 8 bits (blocks of 256, mean subtracted). */
  doubleQuant?: boolean;
}

export interface QuantFormat {
  readonly name: string;
  /** Bits per stored value (8 or 4). */
  readonly bits: number;
  /** Default values per absmax constant (0: one per row). */
  readonly blockSize: number;
  /** Storage bytes of a [rows, cols] matrix: codes plus constants. */
  storageBytes(rows: number, cols: number, opts?: QuantizeOptions): number;
  /** Quantises an f32 [rows, cols] matrix. */
  quantize(w: Float32Array, rows: number, cols: number, opts?: QuantizeOptions): QuantMatrix;
  /** Writes the f32 values of rows r0 ≤ r < r1 into out ([r1 − r0, cols]). */
  dequantizeRows(q: QuantMatrix, r0: number, r1: number, out: Float32Array): void;
}

const FORMATS = new Map<string, QuantFormat>();

export function registerQuantFormat(f: QuantFormat): void {
  FORMATS.set(f.name, f);
}

export function getQuantFormat(name: string): QuantFormat {
  const f = FORMATS.get(name);
  if (!f) throw new ConfigError(`unknown quantisation format '${name}' (known: ${[...FORMATS.keys()].join(", ")})`);
  return f;
}

export function quantFormatNames(): string[] {
  return [...FORMATS.keys()];
}

/** Bytes a QuantMatrix holds (codes + constants). */
export function quantMatrixBytes(q: QuantMatrix): number {
  let n = q.data.byteLength + (q.absmax ? q.absmax.byteLength : 0);
  if (q.nested) n += q.nested.q.byteLength + q.nested.absmax2.byteLength + 4;
  return n;
}

/** The whole matrix in f32 (merging, tests; the GEMMs never call this). */
export function dequantize(q: QuantMatrix): Float32Array {
  const out = new Float32Array(q.rows * q.cols);
  getQuantFormat(q.format).dequantizeRows(q, 0, q.rows, out);
  return out;
}
