// ggml block formats as codecs: F32, F16, BF16, Q8_0, Q4_0, Q4_1 (quantise and dequantise) and the
// K-quants Q4_K, Q6_K (dequantise). Block layouts and rounding follow ggml-quants.c as the gguf
// Python package's numpy reference (gguf/quants.py) states them; every step rounds to f32 as numpy
// does, so the bytes are identical (test/quant/ggml_blocks.test.ts checks against its output).

import { bf16BitsToF32, f16BitsToF32, f32ToBf16Bits, f32ToF16Bits } from "../tensor/dtype.js";
import { ConfigError, ShapeError } from "../tensor/errors.js";
import { dequantQ4K, dequantQ6K } from "./ggml_kquants.js";

const fr = Math.fround;

/** One ggml tensor type as a row codec (rows are the innermost dimension, a multiple of blockSize). */
export interface GgmlCodec {
  name: string;
  /** ggml_type number. */
  type: number;
  blockSize: number;
  /** Bytes of one row of `cols` elements. */
  rowBytes(cols: number): number;
  /** Quantises a row-major [rows, cols] matrix into ggml blocks (throws for types without a quantiser). */
  quantizeRows(w: Float32Array, rows: number, cols: number): Uint8Array;
  /** Decodes row `row` of a [?, cols] tensor's bytes into out[0..cols). */
  dequantizeRow(bytes: Uint8Array, cols: number, row: number, out: Float32Array): void;
}

function h16(b: Uint8Array, o: number): number {
  return f16BitsToF32(b[o] | (b[o + 1] << 8));
}
function putH16(b: Uint8Array, o: number, x: number): void {
  const h = f32ToF16Bits(x);
  b[o] = h & 0xff;
  b[o + 1] = h >>> 8;
}

function checkShape(name: string, blockSize: number, w: Float32Array, rows: number, cols: number): void {
  if (cols % blockSize !== 0) throw new ShapeError(`${name}: rows of ${cols} elements are not a multiple of the block size ${blockSize}`);
  if (w.length < rows * cols) throw new ShapeError(`${name}: ${w.length} values for a [${rows}, ${cols}] matrix`);
}

/** A codec for block types: `enc`/`dec` handle one block at (src offset, byte offset). */
function blockCodec(
  name: string, type: number, blockSize: number, typeSize: number,
  enc: ((x: Float32Array, xo: number, b: Uint8Array, bo: number) => void) | null,
  dec: (b: Uint8Array, bo: number, out: Float32Array, oo: number) => void,
): GgmlCodec {
  return {
    name, type, blockSize,
    rowBytes: (cols) => (cols / blockSize) * typeSize,
    quantizeRows(w, rows, cols) {
      if (!enc) throw new ConfigError(`quantising to ${name} is not supported (it can be read and dequantised); use q8_0, q4_0, q4_1, f16, bf16 or f32`);
      checkShape(name, blockSize, w, rows, cols);
      const nb = (rows * cols) / blockSize;
      const out = new Uint8Array(nb * typeSize);
      for (let i = 0; i < nb; i++) enc(w, i * blockSize, out, i * typeSize);
      return out;
    },
    dequantizeRow(bytes, cols, row, out) {
      const per = cols / blockSize, base = row * per * typeSize;
      if (base + per * typeSize > bytes.length) throw new ShapeError(`${name}: row ${row} of ${cols} elements lies outside the ${bytes.length} bytes`);
      for (let i = 0; i < per; i++) dec(bytes, base + i * typeSize, out, i * blockSize);
    },
  };
}

function encQ8_0(x: Float32Array, xo: number, b: Uint8Array, bo: number): void {
  let amax = 0;
  for (let j = 0; j < 32; j++) amax = Math.max(amax, Math.abs(x[xo + j]));
  const d = fr(amax / 127);
  const id = d === 0 ? 0 : fr(1 / d);
  putH16(b, bo, d);
  for (let j = 0; j < 32; j++) {
    const v = fr(x[xo + j] * id);
    const q = Math.sign(v) * Math.floor(Math.abs(v) + 0.5); // round half away from zero (roundf)
    b[bo + 2 + j] = q & 0xff;
  }
}
function decQ8_0(b: Uint8Array, bo: number, out: Float32Array, oo: number): void {
  const d = h16(b, bo);
  for (let j = 0; j < 32; j++) out[oo + j] = fr(((b[bo + 2 + j] << 24) >> 24) * d);
}

function encQ4_0(x: Float32Array, xo: number, b: Uint8Array, bo: number): void {
  let amax = -1, max = 0;
  for (let j = 0; j < 32; j++) {
    const a = Math.abs(x[xo + j]);
    if (a > amax) {
      amax = a;
      max = x[xo + j];
    }
  }
  const d = fr(max / -8);
  const id = d === 0 ? 0 : fr(1 / d);
  putH16(b, bo, d);
  const q = (j: number) => Math.min(15, Math.trunc(fr(fr(x[xo + j] * id) + 8.5)));
  for (let j = 0; j < 16; j++) b[bo + 2 + j] = q(j) | (q(j + 16) << 4);
}
function decQ4_0(b: Uint8Array, bo: number, out: Float32Array, oo: number): void {
  const d = h16(b, bo);
  for (let j = 0; j < 16; j++) {
    const v = b[bo + 2 + j];
    out[oo + j] = fr(d * ((v & 15) - 8));
    out[oo + j + 16] = fr(d * ((v >> 4) - 8));
  }
}

function encQ4_1(x: Float32Array, xo: number, b: Uint8Array, bo: number): void {
  let max = -Infinity, min = Infinity;
  for (let j = 0; j < 32; j++) {
    max = Math.max(max, x[xo + j]);
    min = Math.min(min, x[xo + j]);
  }
  const d = fr(fr(max - min) / 15);
  const id = d === 0 ? 0 : fr(1 / d);
  putH16(b, bo, d);
  putH16(b, bo + 2, min);
  const q = (j: number) => Math.min(15, Math.trunc(fr(fr(fr(x[xo + j] - min) * id) + 0.5)));
  for (let j = 0; j < 16; j++) b[bo + 4 + j] = q(j) | (q(j + 16) << 4);
}
function decQ4_1(b: Uint8Array, bo: number, out: Float32Array, oo: number): void {
  const d = h16(b, bo), m = h16(b, bo + 2);
  for (let j = 0; j < 16; j++) {
    const v = b[bo + 4 + j];
    out[oo + j] = fr(fr(d * (v & 15)) + m);
    out[oo + j + 16] = fr(fr(d * (v >> 4)) + m);
  }
}

/** Element-wise types (one element per "block"). */
function scalarCodec(name: string, type: number, width: number, put: (dv: DataView, o: number, x: number) => void, get: (dv: DataView, o: number) => number): GgmlCodec {
  return {
    name, type, blockSize: 1,
    rowBytes: (cols) => cols * width,
    quantizeRows(w, rows, cols) {
      checkShape(name, 1, w, rows, cols);
      const out = new Uint8Array(rows * cols * width);
      const dv = new DataView(out.buffer);
      for (let i = 0; i < rows * cols; i++) put(dv, i * width, w[i]);
      return out;
    },
    dequantizeRow(bytes, cols, row, out) {
      const base = row * cols * width;
      if (base + cols * width > bytes.length) throw new ShapeError(`${name}: row ${row} of ${cols} elements lies outside the ${bytes.length} bytes`);
      const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      for (let j = 0; j < cols; j++) out[j] = get(dv, base + j * width);
    },
  };
}

export const GGML_CODECS: Readonly<Record<string, GgmlCodec>> = {
  F32: scalarCodec("F32", 0, 4, (dv, o, x) => dv.setFloat32(o, x, true), (dv, o) => dv.getFloat32(o, true)),
  F16: scalarCodec("F16", 1, 2, (dv, o, x) => dv.setUint16(o, f32ToF16Bits(x), true), (dv, o) => f16BitsToF32(dv.getUint16(o, true))),
  BF16: scalarCodec("BF16", 30, 2, (dv, o, x) => dv.setUint16(o, f32ToBf16Bits(x), true), (dv, o) => bf16BitsToF32(dv.getUint16(o, true))),
  Q8_0: blockCodec("Q8_0", 8, 32, 34, encQ8_0, decQ8_0),
  Q4_0: blockCodec("Q4_0", 2, 32, 18, encQ4_0, decQ4_0),
  Q4_1: blockCodec("Q4_1", 3, 32, 20, encQ4_1, decQ4_1),
  Q4_K: blockCodec("Q4_K", 12, 256, 144, null, dequantQ4K),
  Q6_K: blockCodec("Q6_K", 14, 256, 210, null, dequantQ6K),
};

/** The codec of a ggml type number, or undefined when the type is not supported here. */
export function ggmlCodecForType(type: number): GgmlCodec | undefined {
  return Object.values(GGML_CODECS).find((c) => c.type === type);
}

/** Decodes a whole [rows, cols] tensor to f32. */
export function dequantizeGgml(codec: GgmlCodec, bytes: Uint8Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) codec.dequantizeRow(bytes, cols, r, out.subarray(r * cols, (r + 1) * cols));
  return out;
}
