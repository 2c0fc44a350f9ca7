// (ε, δ) from Rényi DP (Balle, Barthe, Gaboardi, Hsu & Sato 2020, "Hypothesis testing interpretations
// and Rényi differential privacy", Thm 21; Opacus's get_privacy_spent): at order α,
// ε(α) = rdp(α) + log((α − 1)/α) − (log δ + log α)/(α − 1); the best order gives ε.

import { ConfigError } from "../../tensor/errors.js";

export interface PrivacySpent {
  epsilon: number;
  /** The order that gave ε (NaN when every order's ε is undefined: no privacy). */
  bestAlpha: number;
}

/** ε at δ from the RDP values of the orders; the smallest over the orders. */
export function privacySpent(orders: readonly number[], rdp: readonly number[], delta: number): PrivacySpent {
  if (orders.length !== rdp.length) throw new ConfigError(`privacySpent: ${orders.length} orders but ${rdp.length} RDP values`);
  if (!(delta > 0 && delta < 1)) throw new ConfigError(`privacySpent: delta must be in (0, 1), got ${delta}`);
  let best = NaN, bestAlpha = NaN;
  orders.forEach((a, i) => {
    const eps = rdp[i] + Math.log((a - 1) / a) - (Math.log(delta) + Math.log(a)) / (a - 1);
    if (!Number.isNaN(eps) && (Number.isNaN(best) || eps < best)) {
      best = eps;
      bestAlpha = a;
    }
  });
  return Number.isNaN(best) ? { epsilon: Infinity, bestAlpha: NaN } : { epsilon: best, bestAlpha };
}
