// Reference row softmax / log-softmax kernels over [rows, cols] (accumulation in double).
import type { F32 } from "../backend.js";

export function softmax(x: F32, out: F32, rows: number, cols: number): void {
  for (let r = 0; r < rows; r++) {
    const o = r * cols;
    let mx = -Infinity;
    for (let c = 0; c < cols; c++) if (x[o + c] > mx) mx = x[o + c];
    // a row of -inf would give NaN via (-inf) − (-inf); shift by 0 instead so exp gives 0 and 0/0 = NaN like torch
    if (mx === -Infinity) mx = 0;
    let s = 0;
    for (let c = 0; c < cols; c++) {
      const e = Math.exp(x[o + c] - mx);
      out[o + c] = e;
      s += e;
    }
    const inv = 1 / s;
    for (let c = 0; c < cols; c++) out[o + c] *= inv;
  }
}

export function softmaxBackward(y: F32, gy: F32, gx: F32, rows: number, cols: number): void {
  for (let r = 0; r < rows; r++) {
    const o = r * cols;
    let dot = 0;
    for (let c = 0; c < cols; c++) dot += gy[o + c] * y[o + c];
    for (let c = 0; c < cols; c++) gx[o + c] = y[o + c] * (gy[o + c] - dot);
  }
}

export function logSoftmax(x: F32, out: F32, rows: number, cols: number): void {
  for (let r = 0; r < rows; r++) {
    const o = r * cols;
    let mx = -Infinity;
    for (let c = 0; c < cols; c++) if (x[o + c] > mx) mx = x[o + c];
    if (mx === -Infinity) mx = 0;
    let s = 0;
    for (let c = 0; c < cols; c++) s += Math.exp(x[o + c] - mx);
    const lse = mx + Math.log(s);
    for (let c = 0; c < cols; c++) out[o + c] = x[o + c] - lse;
  }
}

export function logSoftmaxBackward(y: F32, gy: F32, gx: F32, rows: number, cols: number): void {
  for (let r = 0; r < rows; r++) {
    const o = r * cols;
    let s = 0;
    for (let c = 0; c < cols; c++) s += gy[o + c];
    for (let c = 0; c < cols; c++) gx[o + c] = gy[o + c] - Math.exp(y[o + c]) * s;
  }
}
