// The noise multiplier σ that spends at most a target (ε, δ) in a given number of steps, found as
// Opacus's get_noise_multiplier does: σ_high doubles from 10 until ε(σ_high) < target (refused past
// 10⁶: the budget is too low), then bisection on [0, σ_high] until target − ε(σ_high) ≤ the tolerance;
// the answer is σ_high (its ε never exceeds the target).

import { ConfigError } from "../../tensor/errors.js";
import { createAccountant } from "./accountants.js";

const MAX_SIGMA = 1e6;

export interface NoiseMultiplierOptions {
  targetEpsilon: number;
  targetDelta: number;
  sampleRate: number;
  /** Exactly one of steps and epochs (epochs: steps = floor(epochs / sampleRate)). */
  steps?: number;
  epochs?: number;
  accountant?: "rdp" | "gdp";
  /** Stop once the ε found is within this of the target (default 0.01). */
  epsilonTolerance?: number;
}

export function getNoiseMultiplier(o: NoiseMultiplierOptions): number {
  if ((o.steps === undefined) === (o.epochs === undefined)) throw new ConfigError("getNoiseMultiplier: give exactly one of steps and epochs");
  const steps = o.steps ?? Math.floor(o.epochs! / o.sampleRate);
  if (!(o.targetEpsilon > 0)) throw new ConfigError(`getNoiseMultiplier: targetEpsilon must be > 0, got ${o.targetEpsilon}`);
  const tol = o.epsilonTolerance ?? 0.01;
  const eps = (sigma: number) => {
    const acc = createAccountant(o.accountant ?? "rdp");
    acc.step({ noiseMultiplier: sigma, sampleRate: o.sampleRate }, steps);
    return acc.getEpsilon(o.targetDelta);
  };
  let low = 0, high = 10, epsHigh = Infinity;
  while (epsHigh > o.targetEpsilon) {
    high *= 2;
    epsHigh = eps(high);
    if (high > MAX_SIGMA) throw new ConfigError(`getNoiseMultiplier: the privacy budget is too low (epsilon ${o.targetEpsilon}, delta ${o.targetDelta} over ${steps} steps at sample rate ${o.sampleRate} needs a noise multiplier above ${MAX_SIGMA})`);
  }
  while (o.targetEpsilon - epsHigh > tol) {
    const sigma = (low + high) / 2;
    const e = eps(sigma);
    if (e < o.targetEpsilon) {
      high = sigma;
      epsHigh = e;
    } else low = sigma;
  }
  return high;
}
