// Past keys and values (KV cache or prefix tuning): one layer's, joined with a step's own; and the
// preallocated cache of generation, written in place (no per-step concatenation or allocation).
import { Tensor } from "../tensor/tensor.js";
import { ShapeError } from "../tensor/errors.js";
import * as ops from "../ops/index.js";

/** One layer's cached (or prefix) keys and values, [B, Hkv, P, D] each. */
export interface KeyValue {
  key: Tensor;
  value: Tensor;
  /**
   * Set on a preallocated cache (preallocateCache): key/value are views of the first P positions of
   * [B, Hkv, capacity, D] buffers, and the next step's keys and values are written in place after them.
   */
  cache?: KvBuffer;
}

/** The storage behind a preallocated layer cache: [B, Hkv, capacity, D] keys and values. */
export interface KvBuffer {
  key: Float32Array;
  value: Float32Array;
  batch: number;
  kvHeads: number;
  headDim: number;
  capacity: number;
  /** Positions written so far: only a view of exactly this length is extended in place. */
  length: number;
}

/** Concatenates a layer's cache/prefix with this step's keys and values along time. */
export function withPast(past: KeyValue | undefined, k: Tensor, v: Tensor): KeyValue {
  if (!past) return { key: k, value: v };
  if (past.key.ndim !== 4 || past.key.shape[0] !== k.shape[0] || past.key.shape[1] !== k.shape[1] || past.key.shape[3] !== k.shape[3]) {
    throw new ShapeError(`pastKeyValues: key of shape [${past.key.shape}] does not fit this layer's keys [${k.shape}] (expected [B, Hkv, P, D])`);
  }
  const c = past.cache;
  const P = past.key.shape[2], T = k.shape[2];
  // in place when this view is the cache's newest (an older view reused falls back to a copy) and it has room
  if (c && c.length === P && P + T <= c.capacity && !k.requiresGrad && !v.requiresGrad && k.dtype === "f32" && v.dtype === "f32") {
    writeRows(c.key, c, k, P);
    writeRows(c.value, c, v, P);
    c.length = P + T;
    return { key: cacheView(c.key, c, P + T), value: cacheView(c.value, c, P + T), cache: c };
  }
  return { key: ops.cat([past.key, k], 2), value: ops.cat([past.value, v], 2) };
}

/** The number of past positions P (0 without a cache). */
export function pastLength(past: KeyValue[] | undefined): number {
  return past && past.length > 0 ? past[0].key.shape[2] : 0;
}

/**
 * Copies each layer's past into [B, Hkv, capacity, D] buffers (capacity ≥ its length) and returns
 * views of them that withPast extends in place. Layers whose past is not 4-d f32 stay as they are.
 */
export function preallocateCache(past: KeyValue[], capacity: number): KeyValue[] {
  return past.map((kv) => {
    const k = kv.key, v = kv.value;
    if (k.ndim !== 4 || k.dtype !== "f32" || v.dtype !== "f32" || v.ndim !== 4 || k.shape[2] > capacity) return kv;
    const [B, Hkv, P, D] = k.shape;
    if (v.shape[0] !== B || v.shape[1] !== Hkv || v.shape[2] !== P || v.shape[3] !== D) return kv;
    const n = B * Hkv * capacity * D;
    const c: KvBuffer = { key: new Float32Array(n), value: new Float32Array(n), batch: B, kvHeads: Hkv, headDim: D, capacity, length: P };
    writeRows(c.key, c, k, 0);
    writeRows(c.value, c, v, 0);
    return { key: cacheView(c.key, c, P), value: cacheView(c.value, c, P), cache: c };
  });
}

/** [B, Hkv, len, D] view of a cache buffer (head stride capacity·D). */
function cacheView(buf: Float32Array, c: KvBuffer, len: number): Tensor {
  const D = c.headDim, hs = c.capacity * D;
  return new Tensor(buf, [c.batch, c.kvHeads, len, D], "f32", [c.kvHeads * hs, hs, D, 1], 0);
}

/** Writes x [B, Hkv, T, D] (any strides) into the buffer at positions [at, at + T). */
function writeRows(buf: Float32Array, c: KvBuffer, x: Tensor, at: number): void {
  const [B, H, T, D] = x.shape;
  const src = x.storage as Float32Array, [sb, sh, st, sd] = x.strides;
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < H; h++) {
      for (let t = 0; t < T; t++) {
        const o = ((b * H + h) * c.capacity + at + t) * D, i = x.offset + b * sb + h * sh + t * st;
        if (sd === 1) buf.set(src.subarray(i, i + D), o);
        else for (let d = 0; d < D; d++) buf[o + d] = src[i + d * sd];
      }
    }
  }
}
