// sumToShape: the gradient of a broadcast, summed back over the broadcast dims (used by Tensor.expand and the ops).
// It and tensor.ts import each other; each uses the other only inside function bodies, so load order does not matter.

import { Tensor } from "./tensor.js";
import { sameShape, shapeSize } from "./shape.js";
import { getBackend } from "../backend/registry.js";

/** Reduces a gradient of a broadcast result back to `shape` by summing over broadcast dims. */
export function sumToShape(g: Tensor, shape: readonly number[]): Tensor {
  if (sameShape(g.shape, shape)) return g;
  const be = getBackend();
  if (be.name === "native" && g.dtype === "f32") {
    // each run of reduced dims is one [outer, n, inner] sum on the native kernel
    const off = g.ndim - shape.length;
    const cur = g.shape.slice();
    let buf = g.f32();
    for (let d = 0; d < cur.length;) {
      const target = d < off ? 1 : shape[d - off];
      if (target === cur[d]) { d++; continue; }
      let e = d;
      while (e < cur.length && (e < off ? 1 : shape[e - off]) !== cur[e]) e++;
      const outer = shapeSize(cur.slice(0, d)), n = shapeSize(cur.slice(d, e)), inner = shapeSize(cur.slice(e));
      const out = new Float32Array(outer * inner);
      be.sum(buf, out, outer, n, inner);
      buf = out;
      for (let k = d; k < e; k++) cur[k] = 1;
      d = e;
    }
    return new Tensor(buf, shape, "f32");
  }
  const nd = g.ndim;
  const off = nd - shape.length;
  const src = g.f32();
  const out = new Float32Array(shapeSize(shape));
  // output strides aligned with g's dims (0 where reduced)
  const ost = new Array<number>(nd).fill(0);
  let acc = 1;
  for (let i = nd - 1; i >= 0; i--) {
    const j = i - off;
    if (j >= 0 && shape[j] !== 1) {
      ost[i] = acc;
    }
    if (j >= 0) acc *= shape[j];
  }
  const idx = new Array<number>(nd).fill(0);
  let o = 0;
  const n = src.length;
  const lastDim = nd - 1;
  for (let i = 0; i < n; i++) {
    out[o] += src[i];
    // odometer
    for (let d = lastDim; d >= 0; d--) {
      idx[d]++;
      o += ost[d];
      if (idx[d] < g.shape[d]) break;
      o -= ost[d] * g.shape[d];
      idx[d] = 0;
    }
  }
  return new Tensor(out, shape, "f32");
}
