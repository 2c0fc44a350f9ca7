// One seeded RNG (xoshiro128**) feeding init, dropout and shuffling.
// Its state is four uint32 words plus a cached normal; getState/setState go into checkpoints.

import { getBackend } from "../backend/registry.js";
import { xoshiroNext } from "./xoshiro.js";
import { allocF32Uninit } from "./dtype.js";
import { FormatError } from "./errors.js";

export interface RngState {
  s: [number, number, number, number];
  spare: number | null;
}

/** Checks a saved generator state (e.g. from rng_state.json): a FormatError naming `where` otherwise. */
export function assertRngState(v: unknown, where: string): asserts v is RngState {
  const st = v as RngState;
  const ok = st !== null && typeof st === "object" && Array.isArray(st.s) && st.s.length === 4 &&
    st.s.every((w) => Number.isInteger(w) && w >= 0 && w < 2 ** 32) && !st.s.every((w) => w === 0) &&
    (st.spare === null || st.spare === undefined || (typeof st.spare === "number" && Number.isFinite(st.spare)));
  if (!ok) throw new FormatError(`${where}: expected a generator state {s: [4 uint32 words, not all 0], spare: number | null}, found ${JSON.stringify(v)?.slice(0, 80)}`);
}

function splitmix32(seed: number): () => number {
  let x = seed >>> 0;
  return () => {
    x = (x + 0x9e3779b9) >>> 0;
    let z = x;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return (z ^ (z >>> 16)) >>> 0;
  };
}

/** A replayable dropout draw (Rng.dropoutDraw). */
export interface DropoutDraw {
  /** The multipliers (0 or keepScale) in a buffer of their own. */
  mask(): Float32Array;
  /** out = x ⊙ multipliers (x and out of length n; may be the same array). */
  apply(x: Float32Array, out: Float32Array): void;
  /**
   * The two draws k0, k1 that key the counter-based hash (multiplier i is a function of i, k0, k1 and
   * p alone, see the backend's dropoutMask), so a kernel can regenerate any element without the
   * buffer; absent when a subclass draws from its own stream.
   */
  keys?: { k0: number; k1: number };
}

export class Rng {
  private s = new Uint32Array(4);
  private spare: number | null = null;

  constructor(seed = 0) {
    this.seed(seed);
  }
  seed(seed: number): void {
    const sm = splitmix32(seed);
    for (let i = 0; i < 4; i++) this.s[i] = sm();
    if ((this.s[0] | this.s[1] | this.s[2] | this.s[3]) === 0) this.s[0] = 1;
    this.spare = null;
  }
  /** Next uint32. */
  nextU32(): number {
    return xoshiroNext(this.s);
  }
  /**
   * Dropout multipliers in one backend call: out[i] = 0 with probability p, else keepScale. The mask is
   * counter-based (backend `dropoutMask`): two nextU32 draws key a hash of the element index, so it is
   * the same on every backend and the generator advances by exactly two draws whatever the length.
   * A subclass with its own stream instead draws one random() per element (out[i] = 0 where random() < p).
   */
  fillDropoutMask(out: Float32Array, p: number, keepScale: number): Float32Array {
    if (this.ownStream()) {
      // a subclass with its own stream: draw through it
      for (let i = 0; i < out.length; i++) out[i] = this.random() < p ? 0 : keepScale;
      return out;
    }
    getBackend().dropoutMask(this.s, out, p, keepScale);
    return out;
  }
  /**
   * One dropout draw over n elements that can be replayed: advances the generator exactly as
   * fillDropoutMask does and returns functions that rebuild the same multipliers on every call —
   * `mask()` into a fresh buffer, `apply(x, out)` as out = x ⊙ mask in one pass (backend dropoutApply).
   * Ops call them in forward and again in backward instead of keeping the mask alive in between (the
   * base generator's masks are counter-based, so only its state is kept; a subclass with its own
   * stream fills one buffer now and reuses it).
   */
  dropoutDraw(n: number, p: number, keepScale: number): DropoutDraw {
    if (this.ownStream()) {
      const buf = this.fillDropoutMask(new Float32Array(n), p, keepScale);
      return { mask: () => buf, apply: (x, out) => getBackend().binary("mul", x, buf, out, [n], [1], [1]) };
    }
    const st = this.s.slice();
    const k0 = xoshiroNext(this.s), k1 = xoshiroNext(this.s);
    return {
      keys: { k0, k1 },
      mask: () => {
        const buf = allocF32Uninit(n);
        getBackend().dropoutMask(st.slice(), buf, p, keepScale);
        return buf;
      },
      apply: (x, out) => getBackend().dropoutApply(st.slice(), x, out, p, keepScale),
    };
  }
  /** Whether a subclass replaced the generator (random or nextU32): dropout then draws through it. */
  private ownStream(): boolean {
    return this.random !== Rng.prototype.random || this.nextU32 !== Rng.prototype.nextU32;
  }
  /** Uniform in [0, 1) with 32 bits of randomness. */
  random(): number {
    return this.nextU32() / 4294967296;
  }
  uniform(low = 0, high = 1): number {
    return low + (high - low) * this.random();
  }
  /** Standard normal (Box–Muller, second value cached). */
  normal(mean = 0, std = 1): number {
    if (this.spare !== null) {
      const v = this.spare;
      this.spare = null;
      return mean + std * v;
    }
    let u = 0;
    while (u === 0) u = this.random();
    const v = this.random();
    const r = Math.sqrt(-2 * Math.log(u));
    this.spare = r * Math.sin(2 * Math.PI * v);
    return mean + std * r * Math.cos(2 * Math.PI * v);
  }
  bernoulli(p: number): boolean {
    return this.random() < p;
  }
  /** Integer in [0, n). */
  randint(n: number): number {
    return Math.floor(this.random() * n);
  }
  /** Random permutation of 0..n-1 (Fisher–Yates). */
  permutation(n: number): number[] {
    const a = Array.from({ length: n }, (_, i) => i);
    for (let i = n - 1; i > 0; i--) {
      const j = this.randint(i + 1);
      const t = a[i];
      a[i] = a[j];
      a[j] = t;
    }
    return a;
  }
  fillNormal(out: Float32Array, mean = 0, std = 1): Float32Array {
    for (let i = 0; i < out.length; i++) out[i] = this.normal(mean, std);
    return out;
  }
  fillUniform(out: Float32Array, low = 0, high = 1): Float32Array {
    for (let i = 0; i < out.length; i++) out[i] = this.uniform(low, high);
    return out;
  }
  getState(): RngState {
    return { s: [this.s[0], this.s[1], this.s[2], this.s[3]], spare: this.spare };
  }
  setState(state: RngState): void {
    assertRngState(state, "rng state");
    for (let i = 0; i < 4; i++) this.s[i] = state.s[i] >>> 0;
    this.spare = state.spare ?? null;
  }
}


/** The process-wide generator (like torch's default generator). */
export const globalRng = new Rng(0);

/** Seeds the global generator (like torch.manual_seed / transformers.set_seed). */
export function manualSeed(seed: number): void {
  globalRng.seed(seed);
}
