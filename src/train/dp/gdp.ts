// Gaussian DP of noisy SGD (Dong, Roth & Su 2019, "Gaussian Differential Privacy"; Bu, Dong, Long &
// Su 2020, "Deep Learning with Gaussian Differential Privacy"): by the central limit theorem T steps
// of the Poisson-subsampled Gaussian mechanism are μ-GDP with μ = q·√(T·(e^(1/σ²) − 1)) (Opacus's
// compute_mu_poisson; the uniform-sampling variant is compute_mu_uniform). μ-GDP gives
// δ(ε) = Φ(−ε/μ + μ/2) − e^ε·Φ(−ε/μ − μ/2), decreasing in ε; ε(δ) by bisection on [0, 500] (Opacus: brentq there).

import { ConfigError } from "../../tensor/errors.js";
import { logNormCdf, normCdf } from "./log_math.js";

/** μ of T Poisson-subsampled steps (rate q, noise multiplier σ). */
export function gdpMuPoisson(q: number, sigma: number, steps: number): number {
  return q * Math.sqrt(steps * Math.expm1(1 / (sigma * sigma)));
}

/** μ of T uniformly subsampled steps (Bu et al. 2020, the sampling-without-replacement CLT). */
export function gdpMuUniform(q: number, sigma: number, steps: number): number {
  const c = q * Math.sqrt(steps);
  return Math.SQRT2 * c * Math.sqrt(Math.exp(1 / (sigma * sigma)) * normCdf(1.5 / sigma) + 3 * normCdf(-0.5 / sigma) - 2);
}

/** δ of μ-GDP at ε (the second term in log space: e^ε·Φ(·) without overflow). */
export function gdpDelta(epsilon: number, mu: number): number {
  return normCdf(-epsilon / mu + mu / 2) - Math.exp(epsilon + logNormCdf(-epsilon / mu - mu / 2));
}

/** ε of μ-GDP at δ. */
export function gdpEpsilon(mu: number, delta: number): number {
  if (!(delta > 0 && delta < 1)) throw new ConfigError(`gdp: delta must be in (0, 1), got ${delta}`);
  if (!(mu > 0)) return 0;
  let lo = 0, hi = 500;
  if (gdpDelta(hi, mu) > delta) throw new ConfigError(`gdp: no epsilon <= 500 reaches delta ${delta} (mu ${mu})`);
  if (gdpDelta(lo, mu) <= delta) return 0;
  for (let i = 0; i < 200 && hi - lo > 1e-15 * hi; i++) {
    const mid = (lo + hi) / 2;
    if (gdpDelta(mid, mu) > delta) lo = mid;
    else hi = mid;
  }
  return (lo + hi) / 2;
}
