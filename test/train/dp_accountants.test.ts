// The DP accountants (src/train/dp) against test/fixtures/dp/rdp_table.json, written by
// scripts/fixtures/make_dp_fixtures.py from the papers' definitions with mpmath at 30 digits (RDP by
// the binomial sum / numerical integration, Balle et al.'s conversion, GDP's CLT, Opacus's noise
// search); Opacus's reference case q = 0.04, σ = 1.5, 2,250 steps, δ = 1e-5 → ε = 7.3291111714.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { ConfigError } from "../../src/tensor/errors.js";
import {
  computeRdp, createAccountant, DEFAULT_ALPHAS, GDPAccountant, gdpDelta, gdpEpsilon, gdpMuPoisson, getNoiseMultiplier, privacySpent, RDPAccountant,
} from "../../src/train/dp/index.js";
import { erfc, logAdd, logErfc, logSub } from "../../src/train/dp/log_math.js";

interface Case { q: number; sigma: number; steps: number; delta: number; epsilon: number; bestOrder: number; rdp: number[]; gdpMu: number; gdpEpsilon: number }
const table = JSON.parse(readFileSync(join(import.meta.dirname, "..", "fixtures", "dp", "rdp_table.json"), "utf8")) as {
  orders: number[]; cases: Case[];
  composed: { history: { noiseMultiplier: number; sampleRate: number; steps: number }[]; delta: number; epsilon: number; bestOrder: number };
  noise: { targetEpsilon: number; targetDelta: number; sampleRate: number; steps: number; noiseMultiplier: number; epsilon: number }[];
};
const name = (c: Case) => `q ${c.q} σ ${c.sigma} × ${c.steps} δ ${c.delta}`;

test("default orders are Opacus's: 1.1 … 10.9 by 0.1, then 12 … 63", () => {
  assert.deepEqual(DEFAULT_ALPHAS, table.orders);
  assert.equal(DEFAULT_ALPHAS.length, 99 + 52);
});

test("Opacus's reference: q 0.04, σ 1.5, 2,250 steps, δ 1e-5 → ε 7.3291111714", () => {
  const acc = new RDPAccountant();
  acc.step({ noiseMultiplier: 1.5, sampleRate: 0.04 }, 2000);
  for (let i = 0; i < 250; i++) acc.step({ noiseMultiplier: 1.5, sampleRate: 0.04 });
  assert.deepEqual(acc.history, [{ noiseMultiplier: 1.5, sampleRate: 0.04, steps: 2250 }], "equal steps merge into one entry");
  assert.ok(Math.abs(acc.getEpsilon(1e-5) - 7.3291111714) < 1e-8, `${acc.getEpsilon(1e-5)}`);
  assert.equal(acc.getPrivacySpent(1e-5).bestAlpha, 3.9);
});

test("RDP of the sampled Gaussian mechanism at every default order; ε and its order to 1e-8 (12 cases)", () => {
  assert.ok(table.cases.length >= 12);
  let worstRdp = 0, worstEps = 0;
  for (const c of table.cases) {
    const rdp = computeRdp(c.q, c.sigma, c.steps);
    rdp.forEach((r, i) => {
      // integer orders (the binomial sum) to 1e-12 relative; fractional ones: the double-precision erfc
      // series cancels near α = 1 at small q (as Opacus's float64 one), ≤ 5e-12 absolute per step
      const a = DEFAULT_ALPHAS[i], err = Math.abs(r - c.rdp[i]);
      const ok = Number.isInteger(a) ? err <= 1e-12 * Math.max(1, Math.abs(c.rdp[i])) : err <= 5e-12 * c.steps + 1e-12 * Math.abs(c.rdp[i]);
      worstRdp = Math.max(worstRdp, err / c.steps);
      assert.ok(ok, `${name(c)} order ${a}: rdp ${r} vs ${c.rdp[i]}`);
    });
    const acc = new RDPAccountant();
    acc.step({ noiseMultiplier: c.sigma, sampleRate: c.q }, c.steps);
    const spent = acc.getPrivacySpent(c.delta);
    worstEps = Math.max(worstEps, Math.abs(spent.epsilon - c.epsilon));
    assert.ok(Math.abs(spent.epsilon - c.epsilon) < 1e-8, `${name(c)}: ε ${spent.epsilon} vs ${c.epsilon}`);
    assert.equal(spent.bestAlpha, c.bestOrder, name(c));
  }
  console.log(`# dp rdp: worst RDP error per step ${worstRdp.toExponential(2)}, worst |Δε| ${worstEps.toExponential(2)} over ${table.cases.length} cases`);
});

test("RDP composes over a history of different mechanisms", () => {
  const acc = new RDPAccountant();
  for (const h of table.composed.history) acc.step(h, h.steps);
  const s = acc.getPrivacySpent(table.composed.delta);
  assert.ok(Math.abs(s.epsilon - table.composed.epsilon) < 1e-8, `${s.epsilon} vs ${table.composed.epsilon}`);
  assert.equal(s.bestAlpha, table.composed.bestOrder);
});

test("GDP accountant (Poisson CLT): μ and ε to 1e-8; one mechanism only", () => {
  for (const c of table.cases) {
    assert.ok(Math.abs(gdpMuPoisson(c.q, c.sigma, c.steps) - c.gdpMu) <= 1e-12 * Math.max(1, c.gdpMu), `${name(c)}: μ`);
    const acc = createAccountant("gdp");
    acc.step({ noiseMultiplier: c.sigma, sampleRate: c.q }, c.steps);
    const e = acc.getEpsilon(c.delta);
    assert.ok(Math.abs(e - c.gdpEpsilon) < 1e-8, `${name(c)}: GDP ε ${e} vs ${c.gdpEpsilon}`);
    if (e > 0) assert.ok(Math.abs(gdpDelta(e, c.gdpMu) - c.delta) < 1e-12, "δ(ε) is the target δ");
  }
  const acc = new GDPAccountant();
  acc.step({ noiseMultiplier: 1, sampleRate: 0.01 }, 10);
  acc.step({ noiseMultiplier: 2, sampleRate: 0.01 }, 10);
  assert.throws(() => acc.getEpsilon(1e-5), (e: unknown) => e instanceof ConfigError && /must be the same for every step/.test((e as Error).message));
  assert.equal(gdpEpsilon(0, 1e-5), 0);
});

test("getNoiseMultiplier: Opacus's search; the σ found spends at most the target, within the tolerance", () => {
  for (const n of table.noise) {
    const sigma = getNoiseMultiplier({ targetEpsilon: n.targetEpsilon, targetDelta: n.targetDelta, sampleRate: n.sampleRate, steps: n.steps, accountant: "rdp" });
    assert.ok(Math.abs(sigma - n.noiseMultiplier) < 1e-8, `ε ${n.targetEpsilon}: σ ${sigma} vs ${n.noiseMultiplier}`);
    const acc = new RDPAccountant();
    acc.step({ noiseMultiplier: sigma, sampleRate: n.sampleRate }, n.steps);
    const e = acc.getEpsilon(n.targetDelta);
    assert.ok(Math.abs(e - n.epsilon) < 1e-8 && e <= n.targetEpsilon && n.targetEpsilon - e <= 0.01, `ε(σ) ${e}`);
  }
  // GDP and epochs: the same properties
  const sigma = getNoiseMultiplier({ targetEpsilon: 2, targetDelta: 1e-5, sampleRate: 0.01, epochs: 5, accountant: "gdp" });
  const g = new GDPAccountant();
  g.step({ noiseMultiplier: sigma, sampleRate: 0.01 }, 500);
  const e = g.getEpsilon(1e-5);
  assert.ok(e <= 2 && 2 - e <= 0.01, `gdp ε(σ ${sigma}) = ${e}`);
  assert.throws(() => getNoiseMultiplier({ targetEpsilon: 1, targetDelta: 1e-5, sampleRate: 0.01 }), /exactly one of steps and epochs/);
  assert.throws(() => getNoiseMultiplier({ targetEpsilon: 1e-9, targetDelta: 1e-12, sampleRate: 1, steps: 1000 }), /privacy budget is too low/);
});

test("edge cases and bad input: q 0 and 1, σ 0, no history; clear errors", () => {
  assert.deepEqual(computeRdp(0, 1, 10, [2, 3.5]), [0, 0]);
  assert.deepEqual(computeRdp(1, 2, 10, [2, 3.5]), [10 * 2 / 8, 10 * 3.5 / 8]);
  assert.deepEqual(computeRdp(0.1, 0, 1, [2]), [Infinity]);
  assert.deepEqual(new RDPAccountant().getPrivacySpent(1e-5).epsilon, 0);
  assert.deepEqual(privacySpent([2, 3], [Infinity, Infinity], 1e-5).epsilon, Infinity);
  const bad: [() => unknown, RegExp][] = [
    [() => computeRdp(1.5, 1, 1), /sampleRate must be in \[0, 1\], got 1.5/],
    [() => computeRdp(0.1, -1, 1), /noiseMultiplier must be >= 0, got -1/],
    [() => computeRdp(0.1, 1, 1.5), /steps must be an integer >= 0, got 1.5/],
    [() => computeRdp(0.1, 1, 1, [1]), /orders must be > 1, got 1/],
    [() => new RDPAccountant().step({ noiseMultiplier: 1, sampleRate: 2 }), /sampleRate must be in \[0, 1\], got 2/],
    [() => privacySpent([2], [1], 0), /delta must be in \(0, 1\), got 0/],
    [() => createAccountant("prv" as never), /"rdp" or "gdp".*PRV/],
  ];
  for (const [f, re] of bad) assert.throws(f, (e: unknown) => e instanceof ConfigError && re.test((e as Error).message), String(re));
});

test("log-space helpers: logAdd/logSub, erfc and log erfc against known values and across the series/fraction switch", () => {
  assert.ok(Math.abs(logAdd(Math.log(2), Math.log(3)) - Math.log(5)) < 1e-15);
  assert.equal(logAdd(-Infinity, 1.5), 1.5);
  assert.ok(Math.abs(logSub(Math.log(5), Math.log(3)) - Math.log(2)) < 1e-15);
  assert.equal(logSub(2, 2), -Infinity);
  assert.throws(() => logSub(1, 2), RangeError);
  // erfc(x) from the A&S tables / mpmath, relative error
  for (const [x, v] of [[0.5, 0.4795001221869535], [1, 0.15729920705028513], [2, 0.004677734981047266], [3, 2.209049699858544e-5], [5, 1.5374597944280349e-12], [-1, 1.8427007929497148]] as const)
    assert.ok(Math.abs(erfc(x) - v) <= 1e-13 * v, `erfc(${x}) = ${erfc(x)}`); // 1 − erf below 2: ~1e-16 / erfc(x) relative
  // either side of the series/fraction switch at 2 (mpmath)
  for (const [x, v] of [[1.9999999, 0.004677737047746214587], [2.0000001, 0.004677732914349143768], [2.5, 0.0004069520174449589396]] as const)
    assert.ok(Math.abs(erfc(x) - v) <= 1e-13 * v, `erfc(${x}) = ${erfc(x)}`);
  // log erfc(30) = −900 − log(30√π) + log(1 − 1/(2x²) + 3/(4x⁴) − 15/(8x⁶) + 105/(16x⁸) − …): no underflow
  const x = 30, asym = Math.log1p(-1 / (2 * x ** 2) + 3 / (4 * x ** 4) - 15 / (8 * x ** 6) + 105 / (16 * x ** 8));
  assert.ok(Math.abs(logErfc(x) - (-x * x - Math.log(x * Math.sqrt(Math.PI)) + asym)) < 1e-11, `${logErfc(x)}`);
});
