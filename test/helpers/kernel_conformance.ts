// "Backend kernels vs the TS reference", shared by the native, wasm and WebGPU kernel tests (the WebGPU
// ones run in a browser page, so nothing here needs Node): the elementwise closeness check, and the
// attention cases with their inputs (GQA, causal, key masks with fully masked rows, Tq ≠ Tk, dropout).
import { MASK_MIN, type AttentionParams } from "../../src/backend/backend.js";
import { tsKernels } from "../../src/backend/ts/index.js";

export const maxAbs = (x: ArrayLike<number>) => { let m = 0; for (let i = 0; i < x.length; i++) m = Math.max(m, Math.abs(x[i])); return m; };

/** |x − ref| ≤ atol + rtol·|ref| elementwise (NaNs must match): null, or what disagrees (the worst element). */
export function mismatch(x: ArrayLike<number>, ref: ArrayLike<number>, rtol: number, atol: number, what: string): string | null {
  if (x.length !== ref.length) return `${what}: length ${x.length}, reference ${ref.length}`;
  let worst = -1, worstErr = 0;
  for (let i = 0; i < ref.length; i++) {
    const a = x[i], r = ref[i];
    if (Number.isNaN(r) || Number.isNaN(a)) {
      if (!(Number.isNaN(r) && Number.isNaN(a))) return `${what}[${i}]: ${a} vs reference ${r}`;
      continue;
    }
    if (a === r) continue;
    const err = Math.abs(a - r) - (atol + rtol * Math.abs(r));
    if (err > worstErr || Number.isNaN(err)) { worstErr = err; worst = i; }
  }
  return worst < 0 ? null : `${what}: element ${worst} is ${x[worst]}, reference ${ref[worst]} (rtol ${rtol}, atol ${atol})`;
}

/** mismatch() as an assertion: throws with the message when x is not close to ref. */
export function close(x: ArrayLike<number>, ref: ArrayLike<number>, rtol: number, atol: number, what: string): void {
  const m = mismatch(x, ref, rtol, atol, what);
  if (m !== null) throw new Error(m);
}

/** The absolute tolerance of an f32 GEMM with inner size k against the reference output `ref`. */
export const gemmAtol = (k: number, ref: ArrayLike<number>) => 2e-6 * Math.sqrt(k) * Math.max(1, maxAbs(ref) / Math.sqrt(k));

/** An attention case: the kernel's parameters, whether keys are masked, and the dropout probability. */
export type AttentionCase = AttentionParams & { masked: boolean; p: number };

export const ATTENTION_CASES: AttentionCase[] = [
  { batch: 1, heads: 1, kvHeads: 1, tq: 1, tk: 1, headDim: 1, scale: 1, causal: false, masked: false, p: 0 },
  { batch: 2, heads: 4, kvHeads: 4, tq: 7, tk: 7, headDim: 33, scale: 1 / Math.sqrt(33), causal: false, masked: true, p: 0 },
  { batch: 2, heads: 6, kvHeads: 2, tq: 33, tk: 33, headDim: 8, scale: 0.35, causal: true, masked: false, p: 0.1 },
  { batch: 1, heads: 4, kvHeads: 1, tq: 1, tk: 37, headDim: 16, scale: 0.25, causal: true, masked: true, p: 0 },
  { batch: 3, heads: 2, kvHeads: 1, tq: 5, tk: 12, headDim: 7, scale: 0.5, causal: true, masked: true, p: 0.3 },
  { batch: 2, heads: 2, kvHeads: 2, tq: 7, tk: 5, headDim: 3, scale: 0.5, causal: true, masked: true, p: 0 }, // early queries see no key
  { batch: 2, heads: 3, kvHeads: 3, tq: 65, tk: 65, headDim: 64, scale: 0.125, causal: false, masked: true, p: 0.1 },
];

/**
 * A case's parameters, sizes and inputs: q, k, v from `randn` (in that order), the key mask (the last
 * b keys of sequence b dropped as padding, every key of the third sequence) and the dropout mask.
 */
export function attentionInputs(c: AttentionCase, randn: (n: number) => Float32Array) {
  const { masked, p: dp, ...p } = c;
  const nq = p.batch * p.heads * p.tq * p.headDim, nk = p.batch * p.kvHeads * p.tk * p.headDim, np = p.batch * p.heads * p.tq * p.tk;
  const q = randn(nq), k = randn(nk), v = randn(nk);
  let mask: Float32Array | null = null;
  if (masked) {
    mask = new Float32Array(p.batch * p.tk);
    for (let b = 0; b < p.batch; b++) for (let j = 0; j < p.tk; j++) if (j >= p.tk - b || b === 2) mask[b * p.tk + j] = MASK_MIN;
  }
  let drop: Float32Array | null = null;
  if (dp > 0) {
    drop = new Float32Array(np);
    tsKernels.dropoutMask(new Uint32Array([np, 2, 3, 4]), drop, dp, 1 / (1 - dp));
  }
  return { p, nq, nk, np, q, k, v, mask, drop };
}
