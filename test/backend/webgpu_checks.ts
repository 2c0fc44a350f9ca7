// Shared by the WebGPU test page's case files: the backend handle, seeded random inputs, the
// elementwise comparison and the Checks helper that reads GPU results back and compares them.
import type { GpuArray, WebGpuBackend } from "../../src/backend/webgpu/index.js";

/** The backend the page opened (set by webgpu_page.ts before any case runs). */
export let gpu: WebGpuBackend;
export function setGpu(backend: WebGpuBackend): void {
  gpu = backend;
}

/** The cases, by name: each returns what disagrees (empty when everything agrees). */
export const cases: Record<string, () => Promise<string[]>> = {};

// ------------------------------------------------------------------ inputs and comparison
let seed = 1717;
export function uniform(): number {
  // mulberry32
  seed = (seed + 0x6d2b79f5) >>> 0;
  let t = seed;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
export function randn(n: number, scale = 1): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = scale * Math.sqrt(-2 * Math.log(1 - uniform())) * Math.cos(2 * Math.PI * uniform());
  return out;
}
export const randint = (n: number) => Math.floor(uniform() * n);
export const maxAbs = (x: ArrayLike<number>) => { let m = 0; for (let i = 0; i < x.length; i++) m = Math.max(m, Math.abs(x[i])); return m; };

/** |x − ref| ≤ atol + rtol·|ref| elementwise (NaNs must match): null, or the worst element. */
export function close(x: ArrayLike<number>, ref: ArrayLike<number>, rtol: number, atol: number, what: string): string | null {
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

/** One case's GPU arrays and pending comparisons (all read back at once, then released). */
export class Checks {
  private arrays: GpuArray[] = [];
  private pending: Promise<string | null>[] = [];
  up(x: Float32Array | Int32Array | Uint16Array): GpuArray {
    const a = gpu.upload(x);
    this.arrays.push(a);
    return a;
  }
  empty(n: number, dtype: "f32" | "i32" | "bf16" = "f32"): GpuArray {
    const a = gpu.empty(n, dtype);
    this.arrays.push(a);
    return a;
  }
  /** Compares the GPU array with the reference once read back (queued now: later kernels may overwrite it, so read now). */
  expect(x: GpuArray, ref: ArrayLike<number>, rtol: number, atol: number, what: string): void {
    const r = gpu.readback(x);
    this.pending.push(r.then((v) => close(v, ref, rtol, atol, what)));
  }
  /** Records a host-side disagreement. */
  fail(message: string): void {
    this.pending.push(Promise.resolve(message));
  }
  async done(): Promise<string[]> {
    const r = (await Promise.all(this.pending)).filter((x): x is string => x !== null);
    for (const a of this.arrays) a.release();
    return r;
  }
}
