// Reference reductions over a [outer, n, inner] view.
import type { F32 } from "../backend.js";

export function sum(x: F32, out: F32, outer: number, n: number, inner: number): void {
  out.fill(0);
  for (let o = 0; o < outer; o++) {
    const base = o * n * inner, ob = o * inner;
    for (let j = 0; j < n; j++) {
      const row = base + j * inner;
      for (let i = 0; i < inner; i++) out[ob + i] += x[row + i];
    }
  }
}

export function max(x: F32, out: F32, idx: Int32Array, outer: number, n: number, inner: number): void {
  for (let o = 0; o < outer; o++) {
    const base = o * n * inner, ob = o * inner;
    for (let i = 0; i < inner; i++) {
      let best = -Infinity, bi = 0;
      for (let j = 0; j < n; j++) {
        const v = x[base + j * inner + i];
        if (v > best || Number.isNaN(v)) {
          best = v;
          bi = j;
          if (Number.isNaN(v)) break;
        }
      }
      out[ob + i] = best;
      idx[ob + i] = bi;
    }
  }
}
