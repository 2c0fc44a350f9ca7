// Scaled dot-product attention (eager HF semantics: GQA, key padding mask, causal with KV-cache offset,
// attention dropout on the softmax weights).
import { Tensor } from "../tensor/tensor.js";
import { allocF32Uninit } from "../tensor/dtype.js";
import { record } from "../tensor/autograd.js";
import { ShapeError } from "../tensor/errors.js";
import { getBackend } from "../backend/registry.js";
import { MASK_MIN, type AttentionParams, type FullBackend } from "../backend/backend.js";
import { globalRng, Rng, type DropoutDraw } from "../tensor/random.js";
import { asTensor, assertFloat, f32Of } from "./util.js";

/** 1/0 key mask ([B,Tk], or anything with B·Tk elements such as [B,1,1,Tk]) → additive f32 mask. */
function additiveMask(keyMask: Tensor | number[][], B: number, Tk: number): Float32Array {
  const m = asTensor(keyMask);
  if (m.size !== B * Tk || (m.ndim >= 1 && m.shape[0] !== B) || m.shape[m.ndim - 1] !== Tk) {
    throw new ShapeError(`scaledDotProductAttention: keyMask has shape [${m.shape}], expected [${B}, ${Tk}] (batch, key length)`);
  }
  const src = m.f32();
  const out = new Float32Array(B * Tk);
  for (let i = 0; i < out.length; i++) out[i] = src[i] !== 0 ? 0 : MASK_MIN;
  return out;
}

/**
 * Scaled dot-product attention. q [B,H,Tq,D], k/v [B,Hkv,Tk,D] (GQA when Hkv < H).
 * keyMask: [B,Tk] 1/0 (1 = attend) or null; causal masks future keys (query i sees keys
 * j ≤ i + Tk − Tq, so cached/prefix keys stay visible); scale defaults to 1/√D.
 * Masked scores get torch.finfo(float32).min as in HF eager attention, so fully masked rows are
 * uniform rather than NaN.
 * With `training` and dropoutP > 0 the softmax weights go through inverted dropout before ·V, as in
 * HF eager attention: the mask [B,H,Tq,Tk] is drawn from `rng` (default the global Rng) exactly as
 * ops.dropout on the probabilities would draw it, so both give the same result for the same seed.
 */
export function scaledDotProductAttention(
  q: Tensor, k: Tensor, v: Tensor,
  opts: {
    keyMask?: Tensor | number[][] | null; causal?: boolean; scale?: number; dropoutP?: number; training?: boolean; rng?: Rng;
    /** Receives the softmax weights [B,H,Tq,Tk] (pre-dropout, no gradient); forces the eager kernels. */
    onWeights?: (weights: Tensor) => void;
  } = {},
): Tensor {
  for (const [n, t] of [["q", q], ["k", k], ["v", v]] as const) {
    assertFloat("scaledDotProductAttention", t);
    if (t.ndim !== 4) throw new ShapeError(`scaledDotProductAttention: ${n} must be 4-d [B, heads, T, D], got [${t.shape}]`);
  }
  const [B, H, Tq, D] = q.shape;
  const [Bk, Hkv, Tk, Dk] = k.shape;
  const shapes = `q [${q.shape}], k [${k.shape}], v [${v.shape}]`;
  if (Bk !== B || Dk !== D || v.shape[0] !== B || v.shape[1] !== Hkv || v.shape[2] !== Tk || v.shape[3] !== D) {
    throw new ShapeError(`scaledDotProductAttention: shapes do not fit: ${shapes} (expected k and v [${B}, Hkv, Tk, ${D}])`);
  }
  if (Hkv === 0 || H % Hkv !== 0) {
    throw new ShapeError(`scaledDotProductAttention: query heads ${H} are not a multiple of kv heads ${Hkv} (${shapes})`);
  }
  const p: AttentionParams = {
    batch: B, heads: H, kvHeads: Hkv, tq: Tq, tk: Tk, headDim: D,
    scale: opts.scale ?? 1 / Math.sqrt(D),
    causal: opts.causal ?? false,
  };
  const dropoutP = opts.dropoutP ?? 0;
  if (!(dropoutP >= 0 && dropoutP <= 1)) throw new ShapeError(`scaledDotProductAttention: dropoutP must be in [0, 1], got ${dropoutP}`);
  const mask = opts.keyMask ? additiveMask(opts.keyMask, B, Tk) : null;
  const out = Tensor.empty([B, H, Tq, D]);
  const nProbs = B * H * Tq * Tk;
  // the multipliers ops.dropout would use on the [B,H,Tq,Tk] probabilities (same draws, same order),
  // rebuilt in backward rather than kept
  const draw = opts.training && dropoutP > 0
    ? (opts.rng ?? globalRng).dropoutDraw(nProbs, dropoutP, dropoutP === 1 ? 0 : 1 / (1 - dropoutP))
    : null;
  const be = getBackend();
  const sq = q.shape, sk = k.shape, sv = v.shape, rq = q.requiresGrad, rk = k.requiresGrad, rv = v.requiresGrad;
  // views of a preallocated KV cache are read in place (no gradient flows there: generation)
  const kvStride = !rq && !rk && !rv ? headStride(k, v) : null;
  // a decoding step (one query row, no gradient) too: no [B,H,1,Tk] buffer growing with the cache
  if (!opts.onWeights && useFlash(be, draw, kvStride !== null || (Tq === 1 && !rq && !rk && !rv))) {
    // memory-linear: per-row max and 1/Σexp instead of any [Tq,Tk] buffer, forward and backward
    if (kvStride !== null) p.kvStride = kvStride;
    const qd = f32Of(q), kd = kvStride !== null ? (k.storage as Float32Array) : f32Of(k), vd = kvStride !== null ? (v.storage as Float32Array) : f32Of(v);
    const drop = draw ? { ...draw.keys!, p: dropoutP, keepScale: dropoutP === 1 ? 0 : 1 / (1 - dropoutP) } : null;
    const stats = allocF32Uninit(2 * B * H * Tq);
    be.flashAttention(qd, kd, vd, mask, out.data, stats, p, drop);
    const od = out.data;
    return record(out, "scaledDotProductAttention", [q, k, v], (g) => {
      const gq = Tensor.empty(sq), gk = Tensor.empty(sk), gv = Tensor.empty(sv); // written in full
      be.flashAttentionBackward(qd, kd, vd, mask, od, stats, f32Of(g), gq.data, gk.data, gv.data, p, drop);
      return [rq ? gq : null, rk ? gk : null, rv ? gv : null];
    });
  }
  const qd = f32Of(q), kd = f32Of(k), vd = f32Of(v);
  const dropOf = draw ? draw.mask : null;
  const weights = allocF32Uninit(nProbs);
  be.attention(qd, kd, vd, mask, out.data, weights, p, dropOf ? dropOf() : null);
  if (opts.onWeights) opts.onWeights(new Tensor(weights, [B, H, Tq, Tk]));
  return record(out, "scaledDotProductAttention", [q, k, v], (g) => {
    // the probabilities [B,H,Tq,Tk] are recomputed (scale·QKᵀ + masks, softmax: bit-identical to the
    // forward's) rather than kept from forward to backward: 64 MB on llama-small for ~1% of a step
    const probs = allocF32Uninit(nProbs);
    be.attention(qd, kd, vd, mask, null, probs, p, null);
    const gq = Tensor.empty(sq), gk = Tensor.empty(sk), gv = Tensor.empty(sv); // written in full
    be.attentionBackward(qd, kd, vd, probs, f32Of(g), gq.data, gk.data, gv.data, p, dropOf ? dropOf() : null);
    return [rq ? gq : null, rk ? gk : null, rv ? gv : null];
  });
}

/**
 * S when k and v are both [B, Hkv, Tk, D] views with strides [Hkv·S, S, D, 1], S > Tk·D, at offset 0
 * of f32 storage (a preallocated KV cache, S = capacity·D), else null.
 */
function headStride(k: Tensor, v: Tensor): number | null {
  const [, Hkv, Tk, D] = k.shape;
  const s = k.strides[1];
  for (const t of [k, v]) {
    if (t.dtype !== "f32" || t.offset !== 0 || !(t.storage instanceof Float32Array)) return null;
    if (t.strides[3] !== 1 || t.strides[2] !== D || t.strides[1] !== s || (t.shape[0] > 1 && t.strides[0] !== Hkv * s)) return null;
  }
  return s > Tk * D ? s : null;
}

let kernelChoice: "auto" | "flash" | "eager" | undefined;

/**
 * Which attention kernels scaledDotProductAttention uses: "auto" (default) and "flash" the
 * memory-linear ones wherever the backend has them, "eager" the eager kernels (scores/probabilities
 * [B,H,Tq,Tk] in full) except for decoding steps. Without a call, the environment variable
 * PEFT_TS_ATTENTION=flash|eager (in Node) picks one.
 */
export function setAttentionKernels(choice: "auto" | "flash" | "eager"): void {
  kernelChoice = choice;
}

/**
 * The memory-linear kernels run where the backend has its own (TS reference, native addon) and the
 * dropout, if any, is counter-based (a custom-stream Rng keeps the eager path with its mask buffer):
 * by default ("auto"/"flash") always, with "eager" only for decoding steps (KV-cache views are read in
 * place there, no copy). On the native backend they run as fast as the eager GEMM path (DESIGN.md).
 */
function useFlash(be: FullBackend, draw: DropoutDraw | null, decoding: boolean): boolean {
  if (kernelChoice === undefined) {
    const env = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env?.PEFT_TS_ATTENTION;
    kernelChoice = env === "flash" || env === "eager" ? env : "auto";
  }
  if (!be.supports("flashAttention") || (draw && draw.keys === undefined)) return false;
  return decoding || kernelChoice !== "eager";
}
