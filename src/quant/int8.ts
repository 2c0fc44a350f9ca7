// LLM.int8()'s weight storage: one signed byte per value, q = round(127·w / absmax_row) with the
// absmax of each output row (per-output-channel), dequantised as q·absmax_row/127. (The outlier
// decomposition of LLM.int8() concerns the activations at inference; the stored weight is this.)

import type { QuantFormat, QuantMatrix } from "./format.js";
import { registerQuantFormat } from "./format.js";
import { ShapeError } from "../tensor/errors.js";

/** Round half to even (torch.round / numpy.round). */
export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

export const INT8: QuantFormat = {
  name: "int8", bits: 8, blockSize: 0,
  storageBytes(rows, cols) {
    return rows * cols + 4 * rows;
  },
  quantize(w, rows, cols) {
    if (w.length < rows * cols) throw new ShapeError(`int8 quantisation: ${w.length} values for a [${rows}, ${cols}] matrix`);
    const data = new Uint8Array(rows * cols);
    const q = new Int8Array(data.buffer);
    const absmax = new Float32Array(rows);
    for (let r = 0; r < rows; r++) {
      let m = 0;
      for (let c = 0; c < cols; c++) m = Math.max(m, Math.abs(w[r * cols + c]));
      absmax[r] = m;
      if (m === 0) continue;
      for (let c = 0; c < cols; c++) q[r * cols + c] = roundHalfEven(Math.fround(Math.fround(127 * w[r * cols + c]) / m));
    }
    return { format: "int8", rows, cols, blockSize: cols, data, absmax, nested: null };
  },
  dequantizeRows(qm: QuantMatrix, r0, r1, out) {
    const q = new Int8Array(qm.data.buffer, qm.data.byteOffset, qm.data.length), cols = qm.cols;
    for (let r = r0; r < r1; r++) {
      const s = Math.fround(qm.absmax![r] / 127), o = (r - r0) * cols, base = r * cols;
      for (let c = 0; c < cols; c++) out[o + c] = q[base + c] * s;
    }
  },
};
registerQuantFormat(INT8);
