// bitsandbytes' blockwise 4-bit formats, NF4 and FP4: the flattened weight is cut into blocks of 64
// values, each block stores its absmax (f32, or double-quantised) and every value the index of the
// code level nearest to value/absmax; two indices per byte, the first value in the high nibble.

import { FP4_CODE, NF4_CODE, nearestIndex, sortedWithIndex } from "./codes.js";
import type { QuantFormat, QuantMatrix, QuantizeOptions } from "./format.js";
import { registerQuantFormat } from "./format.js";
import { nestedAbsmaxAt, quantizeAbsmax } from "./nested_absmax.js";
import { ShapeError } from "../tensor/errors.js";

function blockOf(opts: QuantizeOptions | undefined): number {
  const bs = opts?.blockSize ?? 64;
  if (!Number.isInteger(bs) || bs < 2 || bs % 2 !== 0) throw new ShapeError(`4-bit quantisation: blockSize must be an even integer ≥ 2, got ${bs}`);
  return bs;
}

function fourBitFormat(name: "nf4" | "fp4", code: Float32Array): QuantFormat {
  const { sorted, order } = sortedWithIndex(code);
  let zeroCode = 0;
  for (let i = 0; i < 16; i++) if (code[i] === 0) { zeroCode = i; break; }
  return {
    name, bits: 4, blockSize: 64,
    storageBytes(rows, cols, opts) {
      const n = rows * cols, bs = blockOf(opts), nb = Math.ceil(n / bs);
      const consts = opts?.doubleQuant ? nb + 4 * Math.ceil(nb / 256) + 4 : 4 * nb;
      return Math.ceil(n / 2) + consts;
    },
    quantize(w, rows, cols, opts) {
      const n = rows * cols, bs = blockOf(opts);
      if (w.length < n) throw new ShapeError(`${name} quantisation: ${w.length} values for a [${rows}, ${cols}] matrix`);
      const nb = Math.ceil(n / bs);
      const absmax = new Float32Array(nb);
      const data = new Uint8Array(Math.ceil(n / 2));
      for (let b = 0; b < nb; b++) {
        const s = b * bs, e = Math.min(n, s + bs);
        let m = 0;
        for (let i = s; i < e; i++) m = Math.max(m, Math.abs(w[i]));
        absmax[b] = m;
        const inv = m > 0 ? Math.fround(1 / m) : 0;
        for (let i = s; i < e; i++) {
          const c = m > 0 ? nearestIndex(sorted, order, Math.fround(w[i] * inv)) : zeroCode;
          data[i >> 1] |= i & 1 ? c : c << 4;
        }
      }
      const nested = opts?.doubleQuant ? quantizeAbsmax(absmax) : null;
      return { format: name, rows, cols, blockSize: bs, data, absmax: nested ? null : absmax, nested };
    },
    dequantizeRows(q: QuantMatrix, r0, r1, out) {
      const i0 = r0 * q.cols, i1 = r1 * q.cols, bs = q.blockSize, data = q.data;
      let block = -1, scale = 0;
      for (let i = i0; i < i1; i++) {
        const b = (i / bs) | 0;
        if (b !== block) {
          block = b;
          scale = q.absmax ? q.absmax[b] : nestedAbsmaxAt(q.nested!, b);
        }
        const byte = data[i >> 1];
        out[i - i0] = code[i & 1 ? byte & 15 : byte >> 4] * scale;
      }
    },
  };
}

export const NF4 = fourBitFormat("nf4", NF4_CODE);
export const FP4 = fourBitFormat("fp4", FP4_CODE);
registerQuantFormat(NF4);
registerQuantFormat(FP4);
