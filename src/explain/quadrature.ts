// Where Integrated Gradients evaluates the gradient along the straight path from the baseline to the
// input, and with what weight: Riemann sums (left, right, middle, trapezoid) and Gauss–Legendre, as
// Captum's approximation methods (same names and the same points and weights).
import { ConfigError } from "../tensor/errors.js";

export type IntegrationMethod = "riemann_left" | "riemann_right" | "riemann_middle" | "riemann_trapezoid" | "gausslegendre";
export const INTEGRATION_METHODS: readonly IntegrationMethod[] = ["riemann_left", "riemann_right", "riemann_middle", "riemann_trapezoid", "gausslegendre"];

/** Points α ∈ [0, 1] and weights w (Σ w = 1): ∫₀¹ g(α) dα ≈ Σ w·g(α). */
export interface IntegrationPoints {
  alphas: number[];
  weights: number[];
}

export function integrationPoints(nSteps: number, method: IntegrationMethod = "gausslegendre"): IntegrationPoints {
  if (!Number.isInteger(nSteps) || nSteps < 1) throw new ConfigError(`integrated gradients: nSteps must be a positive integer, got ${nSteps}`);
  const n = nSteps;
  const range = (f: (i: number) => number) => Array.from({ length: n }, (_, i) => f(i));
  switch (method) {
    case "riemann_left":
      return { alphas: range((i) => i / n), weights: range(() => 1 / n) };
    case "riemann_right":
      return { alphas: range((i) => (i + 1) / n), weights: range(() => 1 / n) };
    case "riemann_middle":
      return { alphas: range((i) => (i + 0.5) / n), weights: range(() => 1 / n) };
    case "riemann_trapezoid": {
      if (n < 2) throw new ConfigError("integrated gradients: riemann_trapezoid needs nSteps ≥ 2");
      return { alphas: range((i) => i / (n - 1)), weights: range((i) => (i === 0 || i === n - 1 ? 0.5 : 1) / (n - 1)) };
    }
    case "gausslegendre": {
      const { nodes, weights } = gaussLegendre(n);
      return { alphas: nodes.map((x) => (x + 1) / 2), weights: weights.map((w) => w / 2) };
    }
    default:
      throw new ConfigError(`integrated gradients: unknown method '${method as string}' (expected one of ${INTEGRATION_METHODS.join(", ")})`);
  }
}

/**
 * Gauss–Legendre nodes on [−1, 1] (ascending) and weights: roots of the Legendre polynomial Pₙ by
 * Newton's method from the Chebyshev-like first guesses cos(π(i − 1/4)/(n + 1/2)), weights
 * 2 / ((1 − x²)·Pₙ′(x)²).
 */
export function gaussLegendre(n: number): { nodes: number[]; weights: number[] } {
  const nodes = new Array<number>(n), weights = new Array<number>(n);
  for (let i = 0; i < n; i++) {
    let x = Math.cos((Math.PI * (i + 0.75)) / (n + 0.5));
    for (let iter = 0; iter < 100; iter++) {
      const { pn, dp } = legendre(n, x);
      const dx = pn / dp;
      x -= dx;
      if (Math.abs(dx) < 1e-15) break;
    }
    // P_n' at the converged root for the weight
    const { dp } = legendre(n, x);
    nodes[n - 1 - i] = x;
    weights[n - 1 - i] = 2 / ((1 - x * x) * dp * dp);
  }
  return { nodes, weights };
}

/** Pₙ(x) and Pₙ′(x) by the three-term recurrence. */
function legendre(n: number, x: number): { pn: number; dp: number } {
  let p0 = 1, p1 = x;
  for (let k = 2; k <= n; k++) {
    const p2 = ((2 * k - 1) * x * p1 - (k - 1) * p0) / k;
    p0 = p1;
    p1 = p2;
  }
  const pn = n === 1 ? x : p1, pn1 = n === 1 ? 1 : p0;
  return { pn, dp: (n * (x * pn - pn1)) / (x * x - 1) };
}
