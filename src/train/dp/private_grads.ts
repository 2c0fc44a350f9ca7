// The DP-SGD gradient of one logical batch (Abadi et al. 2016, as Opacus's DPOptimizer): every
// example's gradient is clipped to C (factor min(1, C / (‖g_i‖ + 1e-6))), the clipped gradients are
// summed over all micro-batches of the optimizer step (gradient accumulation), and at the end
// Gaussian noise N(0, σ²C²) is added once and the sum divided by the expected batch size (q·N with
// Poisson sampling, so the update does not reveal the drawn batch's size).
// Clipping "flat": one norm over all trainable parameters. "per_layer": each parameter k clipped to
// C / √K on its own (so the whole clipped gradient still has norm ≤ C and the noise stays σC).
// "ghost": flat clipping with the norms and the clipped sum from ghost.ts (no per-sample gradients).

import type { Tensor } from "../../tensor/tensor.js";
import { tensor } from "../../tensor/tensor.js";
import { ConfigError, ShapeError } from "../../tensor/errors.js";
import { cryptoGaussian, type GaussianSource } from "./noise.js";
import { sampleNormsSquared, type SampleGrads } from "./per_sample.js";

export type DpClipping = "flat" | "per_layer" | "ghost";

export interface PrivateGradOptions {
  maxGradNorm: number;
  noiseMultiplier: number;
  expectedBatchSize: number;
  clipping?: DpClipping;
  /** Default: the CSPRNG (cryptoGaussian). */
  noise?: GaussianSource;
}

/** Clip factors [i][k] for per-sample squared norms [i][k]. */
export function clipFactors(norms2: number[][], maxGradNorm: number, clipping: DpClipping): number[][] {
  return norms2.map((n) => {
    if (clipping === "per_layer") {
      const c = maxGradNorm / Math.sqrt(n.length);
      return n.map((v) => Math.min(1, c / (Math.sqrt(v) + 1e-6)));
    }
    const f = Math.min(1, maxGradNorm / (Math.sqrt(n.reduce((s, v) => s + v, 0)) + 1e-6));
    return n.map(() => f);
  });
}

export class PrivateGradients {
  readonly sums: Float32Array[];
  readonly clipping: DpClipping;
  private readonly noise: GaussianSource;
  /** Examples added since the last finish(). */
  samples = 0;
  /** Per-sample flat norms (before clipping) of the examples added since the last finish(). */
  norms: number[] = [];

  constructor(readonly params: Tensor[], readonly opts: PrivateGradOptions) {
    if (!(opts.maxGradNorm > 0)) throw new ConfigError(`dp_max_grad_norm must be > 0, got ${opts.maxGradNorm}`);
    if (!(opts.noiseMultiplier >= 0)) throw new ConfigError(`dp_noise_multiplier must be >= 0, got ${opts.noiseMultiplier}`);
    if (!(opts.expectedBatchSize > 0)) throw new ConfigError(`DP-SGD: the expected batch size must be > 0, got ${opts.expectedBatchSize}`);
    this.clipping = opts.clipping ?? "flat";
    if (this.clipping !== "flat" && this.clipping !== "per_layer" && this.clipping !== "ghost") throw new ConfigError(`dp_clipping must be "flat", "per_layer" or "ghost", got ${JSON.stringify(this.clipping)}`);
    this.noise = opts.noise ?? cryptoGaussian;
    this.sums = params.map((p) => new Float32Array(p.size));
  }

  /** Clips each example's gradients and adds them to the running sums. */
  add(grads: SampleGrads): void {
    const n2 = sampleNormsSquared(grads);
    const f = clipFactors(n2, this.opts.maxGradNorm, this.clipping);
    grads.forEach((g, i) => {
      if (g.length !== this.sums.length) throw new ShapeError(`DP-SGD: example ${i} has ${g.length} gradients, expected ${this.sums.length}`);
      g.forEach((v, k) => {
        const s = this.sums[k], c = f[i][k];
        if (v.length !== s.length) throw new ShapeError(`DP-SGD: gradient ${k} of example ${i} has ${v.length} values, expected ${s.length}`);
        for (let j = 0; j < v.length; j++) s[j] += c * v[j];
      });
      this.norms.push(Math.sqrt(n2[i].reduce((a, b) => a + b, 0)));
    });
    this.samples += grads.length;
  }

  /** Records examples whose clipped gradients were added to `sums` directly (ghost clipping), with their norms before clipping. */
  addedClipped(norms: number[]): void {
    this.norms.push(...norms);
    this.samples += norms.length;
  }

  /**
   * Noise once, divide by the expected batch size, write params' .grad, reset the sums.
   * opts.noise false: no noise here (another rank adds it); opts.reduce: runs on the (noised)
   * sums before the division (data parallelism: their allreduce).
   */
  finish(opts: { noise?: boolean; reduce?: (sums: Float32Array[]) => void } = {}): void {
    const std = opts.noise === false ? 0 : this.opts.noiseMultiplier * this.opts.maxGradNorm;
    if (std > 0) {
      for (const s of this.sums) {
        const z = new Float32Array(s.length);
        this.noise(z, std);
        for (let j = 0; j < s.length; j++) s[j] += z[j];
      }
    }
    opts.reduce?.(this.sums);
    const inv = 1 / this.opts.expectedBatchSize;
    this.params.forEach((p, k) => {
      const s = this.sums[k];
      const z = new Float32Array(s.length);
      for (let j = 0; j < s.length; j++) z[j] = s[j] * inv;
      if (p.grad && p.grad.isContiguous() && p.grad.dtype === "f32") (p.grad.data as Float32Array).set(z);
      else p.grad = tensor(z, { shape: p.shape });
      s.fill(0);
    });
    this.samples = 0;
    this.norms = [];
  }
}
