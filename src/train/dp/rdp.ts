// Rényi DP of the sampled Gaussian mechanism (Mironov, Talwar & Zhang 2019, "Rényi Differential
// Privacy of the Sampled Gaussian Mechanism"): each step adds N(0, σ²) noise to a sum over a
// Poisson sample with rate q; at order α, rdp(α) = log(A_α)/(α − 1) with
// A_α = E_{z∼N(0,σ²)}[((1 − q) + q·e^((2z − 1)/(2σ²)))^α]. Integer α: the binomial expansion
// Σ_k C(α,k)(1 − q)^(α−k) q^k e^((k² − k)/(2σ²)) (paper §3.3); fractional α: the paper's two series
// with erfc terms (§3.3), summed until their terms fall below e^−30. Log space throughout. T steps
// compose by addition. The orders are Opacus's defaults (DEFAULT_ALPHAS).

import { ConfigError } from "../../tensor/errors.js";
import { logAdd, logErfc, logSub } from "./log_math.js";

/** Opacus's default orders: 1.1, 1.2, …, 10.9, then 12, 13, …, 63. */
export const DEFAULT_ALPHAS: readonly number[] = [
  ...Array.from({ length: 99 }, (_, x) => 1 + (x + 1) / 10),
  ...Array.from({ length: 52 }, (_, i) => 12 + i),
];

/** log C(n, k) for integers 0 ≤ k ≤ n. */
function logBinomial(n: number, k: number): number {
  let s = 0;
  for (let j = 1; j <= k; j++) s += Math.log((n - k + j) / j);
  return s;
}

function logAInteger(q: number, sigma: number, alpha: number): number {
  let logA = -Infinity;
  for (let k = 0; k <= alpha; k++) {
    const coef = logBinomial(alpha, k) + k * Math.log(q) + (alpha - k) * Math.log1p(-q);
    logA = logAdd(logA, coef + (k * k - k) / (2 * sigma * sigma));
  }
  return logA;
}

function logAFractional(q: number, sigma: number, alpha: number): number {
  let a0 = -Infinity, a1 = -Infinity;
  const z0 = sigma * sigma * Math.log(1 / q - 1) + 0.5;
  const s2 = Math.SQRT2 * sigma;
  let coef = 1; // C(α, k), built up term by term (negative for some k > α)
  for (let k = 0; ; k++) {
    if (k > 0) coef *= (alpha - k + 1) / k;
    const logCoef = Math.log(Math.abs(coef));
    const j = alpha - k;
    const t0 = logCoef + k * Math.log(q) + j * Math.log1p(-q);
    const t1 = logCoef + j * Math.log(q) + k * Math.log1p(-q);
    const e0 = Math.log(0.5) + logErfc((k - z0) / s2);
    const e1 = Math.log(0.5) + logErfc((z0 - j) / s2);
    const s0 = t0 + (k * k - k) / (2 * sigma * sigma) + e0;
    const s1 = t1 + (j * j - j) / (2 * sigma * sigma) + e1;
    if (coef > 0) {
      a0 = logAdd(a0, s0);
      a1 = logAdd(a1, s1);
    } else {
      a0 = logSub(a0, s0);
      a1 = logSub(a1, s1);
    }
    if (Math.max(s0, s1) < -30) break;
    if (k > 100000) throw new RangeError(`rdp: the series for order ${alpha} did not converge`);
  }
  return logAdd(a0, a1);
}

function checkMechanism(q: number, sigma: number, what: string): void {
  if (!(q >= 0 && q <= 1)) throw new ConfigError(`${what}: sampleRate must be in [0, 1], got ${q}`);
  if (!(sigma >= 0)) throw new ConfigError(`${what}: noiseMultiplier must be >= 0, got ${sigma}`);
}

/** RDP of one step at order α > 1 (sampling rate q, noise multiplier σ). */
export function rdpStep(q: number, sigma: number, alpha: number): number {
  checkMechanism(q, sigma, "rdp");
  if (!(alpha > 1)) throw new ConfigError(`rdp: orders must be > 1, got ${alpha}`);
  if (q === 0) return 0;
  if (sigma === 0 || alpha === Infinity) return Infinity;
  if (q === 1) return alpha / (2 * sigma * sigma);
  const logA = Number.isInteger(alpha) ? logAInteger(q, sigma, alpha) : logAFractional(q, sigma, alpha);
  return logA / (alpha - 1);
}

/** RDP of `steps` steps at every order (Opacus's compute_rdp). */
export function computeRdp(q: number, sigma: number, steps: number, orders: readonly number[] = DEFAULT_ALPHAS): number[] {
  if (!(Number.isInteger(steps) && steps >= 0)) throw new ConfigError(`rdp: steps must be an integer >= 0, got ${steps}`);
  return orders.map((a) => rdpStep(q, sigma, a) * steps);
}
