// Privacy accountants shaped like Opacus's (opacus.accountants): `step({ noiseMultiplier, sampleRate },
// steps)` records steps of the sampled Gaussian mechanism (consecutive steps with the same pair
// are merged into one history entry), `getEpsilon(delta)` says what they spent. RDPAccountant
// composes any history (RDP adds up, rdp.ts) and converts at the best order (rdp_epsilon.ts);
// GDPAccountant (gdp.ts, Poisson CLT) needs one noise multiplier and sample rate for the whole run.

import { ConfigError } from "../../tensor/errors.js";
import { computeRdp, DEFAULT_ALPHAS } from "./rdp.js";
import { privacySpent, type PrivacySpent } from "./rdp_epsilon.js";
import { gdpEpsilon, gdpMuPoisson, gdpMuUniform } from "./gdp.js";

export interface MechanismStep {
  noiseMultiplier: number;
  sampleRate: number;
}
export interface HistoryEntry extends MechanismStep {
  steps: number;
}

abstract class Accountant {
  history: HistoryEntry[] = [];
  abstract readonly mechanism: "rdp" | "gdp";

  /** Records `steps` steps (default 1) with this noise multiplier and sample rate. */
  step({ noiseMultiplier, sampleRate }: MechanismStep, steps = 1): void {
    if (!(noiseMultiplier >= 0)) throw new ConfigError(`${this.mechanism} accountant: noiseMultiplier must be >= 0, got ${noiseMultiplier}`);
    if (!(sampleRate >= 0 && sampleRate <= 1)) throw new ConfigError(`${this.mechanism} accountant: sampleRate must be in [0, 1], got ${sampleRate}`);
    if (!(Number.isInteger(steps) && steps >= 0)) throw new ConfigError(`${this.mechanism} accountant: steps must be an integer >= 0, got ${steps}`);
    const last = this.history.at(-1);
    if (last && last.noiseMultiplier === noiseMultiplier && last.sampleRate === sampleRate) last.steps += steps;
    else this.history.push({ noiseMultiplier, sampleRate, steps });
  }

  /** ε spent at δ. */
  abstract getEpsilon(delta: number): number;
}

export class RDPAccountant extends Accountant {
  readonly mechanism = "rdp" as const;
  /** Opacus's RDPAccountant.DEFAULT_ALPHAS. */
  static readonly DEFAULT_ALPHAS = DEFAULT_ALPHAS;

  /** ε at δ and the order that gave it, over `alphas` (default: Opacus's DEFAULT_ALPHAS). */
  getPrivacySpent(delta: number, alphas: readonly number[] = DEFAULT_ALPHAS): PrivacySpent {
    if (this.history.length === 0) return { epsilon: 0, bestAlpha: NaN };
    const total = alphas.map(() => 0);
    for (const h of this.history) computeRdp(h.sampleRate, h.noiseMultiplier, h.steps, alphas).forEach((r, i) => { total[i] += r; });
    return privacySpent(alphas, total, delta);
  }

  getEpsilon(delta: number, alphas: readonly number[] = DEFAULT_ALPHAS): number {
    return this.getPrivacySpent(delta, alphas).epsilon;
  }
}

export class GDPAccountant extends Accountant {
  readonly mechanism = "gdp" as const;

  /** ε at δ; `poisson` false: the uniform-sampling CLT (Opacus's poisson=False). */
  getEpsilon(delta: number, poisson = true): number {
    if (this.history.length === 0) return 0;
    if (this.history.length > 1) {
      throw new ConfigError(`gdp accountant: the noise multiplier and sample rate must be the same for every step (history: ${this.history.map((h) => `${h.steps} × (σ ${h.noiseMultiplier}, q ${h.sampleRate})`).join(", ")}); use the rdp accountant`);
    }
    const { noiseMultiplier: s, sampleRate: q, steps } = this.history[0];
    return gdpEpsilon((poisson ? gdpMuPoisson : gdpMuUniform)(q, s, steps), delta);
  }
}

/** An accountant by name (Opacus's create_accountant). */
export function createAccountant(mechanism: "rdp" | "gdp"): RDPAccountant | GDPAccountant {
  if (mechanism === "rdp") return new RDPAccountant();
  if (mechanism === "gdp") return new GDPAccountant();
  throw new ConfigError(`accountant must be "rdp" or "gdp", got ${JSON.stringify(mechanism)} (the PRV accountant is not implemented)`);
}
