// DP-SGD step arithmetic (src/train/dp/private_grads.ts, noise.ts): σ = 0 equals the clipped-mean
// reference (flat and per-layer, across accumulated micro-batches); σ > 0: the noise's empirical
// mean and std over many draws match σC/B (fails when noise is missing or mis-scaled).
import { test } from "node:test";
import assert from "node:assert/strict";
import { tensor } from "../../src/tensor/tensor.js";
import { Rng } from "../../src/tensor/random.js";
import { PrivateGradients, clipFactors } from "../../src/train/dp/private_grads.js";
import { cryptoGaussian, seededGaussian } from "../../src/train/dp/noise.js";
import type { SampleGrads } from "../../src/train/dp/per_sample.js";

const rng = new Rng(11);
const params = () => [tensor(new Float32Array(3), { shape: [3], requiresGrad: true }), tensor(new Float32Array(4), { shape: [2, 2], requiresGrad: true })];
const sample = (scale: number): Float32Array[] => [rng.fillNormal(new Float32Array(3), 0, scale), rng.fillNormal(new Float32Array(4), 0, scale)];

/** The reference written from the definition: Σ_i g_i · min(1, C / (‖g_i‖ + 1e-6)) / B. */
function clippedMean(grads: SampleGrads, C: number, B: number, perLayer: boolean): number[][] {
  const K = grads[0].length;
  const out = grads[0].map((g) => Array(g.length).fill(0));
  for (const g of grads) {
    const flat = Math.hypot(...g.flatMap((v) => [...v]));
    g.forEach((v, k) => {
      const c = perLayer ? Math.min(1, C / Math.sqrt(K) / (Math.hypot(...v) + 1e-6)) : Math.min(1, C / (flat + 1e-6));
      v.forEach((x, j) => { out[k][j] += (x * c) / B; });
    });
  }
  return out;
}

for (const clipping of ["flat", "per_layer"] as const) {
  test(`σ = 0 (${clipping}): the update is the clipped mean over the logical batch, accumulated over micro-batches`, () => {
    const C = 1.0, B = 6;
    // a mix of examples above and below the clip norm
    const all: SampleGrads = [0.1, 2, 0.3, 5, 0.05, 1].map(sample);
    const ps = params();
    const pg = new PrivateGradients(ps, { maxGradNorm: C, noiseMultiplier: 0, expectedBatchSize: B, clipping, noise: seededGaussian(1) });
    pg.add(all.slice(0, 2));
    pg.add(all.slice(2, 5));
    pg.add(all.slice(5));
    assert.equal(pg.samples, 6);
    pg.finish();
    const ref = clippedMean(all, C, B, clipping === "per_layer");
    ps.forEach((p, k) => p.grad!.f32().forEach((v, j) => assert.ok(Math.abs(v - ref[k][j]) < 1e-6, `${clipping} param ${k}[${j}]: ${v} vs ${ref[k][j]}`)));
    // the sums were reset: a second logical batch starts from zero
    pg.add([all[0]]);
    pg.finish();
    const ref1 = clippedMean([all[0]], C, B, clipping === "per_layer");
    assert.ok(Math.abs(ps[0].grad!.f32()[0] - ref1[0][0]) < 1e-6);
  });
}

test("clip factors: every clipped example has norm ≤ C (flat) and each layer ≤ C/√K (per_layer)", () => {
  const f = clipFactors([[9, 16], [0.01, 0.01]], 1, "flat");
  assert.ok(Math.abs(f[0][0] - 1 / (5 + 1e-6)) < 1e-12 && f[1][0] === 1);
  const g = clipFactors([[9, 16]], 1, "per_layer");
  assert.ok(Math.abs(g[0][0] * 3 - Math.SQRT1_2) < 1e-6 && Math.abs(g[0][1] * 4 - Math.SQRT1_2) < 1e-6);
});

for (const [what, noise] of [["CSPRNG (default)", undefined], ["seeded", seededGaussian(7)]] as const) {
  test(`σ > 0, ${what}: noise mean 0 and std σC/B over many draws`, () => {
    const C = 0.5, sigma = 1.3, B = 4;
    const n = 20000;
    const p = tensor(new Float32Array(n), { shape: [n], requiresGrad: true });
    const pg = new PrivateGradients([p], { maxGradNorm: C, noiseMultiplier: sigma, expectedBatchSize: B, noise });
    pg.add([[new Float32Array(n)]]); // a zero gradient: the update is pure noise
    pg.finish();
    const z = p.grad!.f32();
    let s = 0, s2 = 0;
    for (const v of z) { s += v; s2 += v * v; }
    const mean = s / n, std = Math.sqrt(s2 / n - mean * mean), want = (sigma * C) / B;
    // 5-sigma bounds: mean's std is want/√n, the sample std's is ≈ want/√(2n)
    assert.ok(Math.abs(mean) < (5 * want) / Math.sqrt(n), `mean ${mean}`);
    assert.ok(Math.abs(std - want) < (5 * want) / Math.sqrt(2 * n), `std ${std} vs ${want}`);
    // noise is drawn fresh per logical batch
    const first = Float32Array.from(z);
    pg.add([[new Float32Array(n)]]);
    pg.finish();
    assert.ok(p.grad!.f32().some((v, i) => v !== first[i]));
  });
}

test("the default noise source is the CSPRNG; bad options are refused by name", () => {
  const a = new Float32Array(4), b = new Float32Array(4);
  cryptoGaussian(a, 1); cryptoGaussian(b, 1);
  assert.ok(a.some((v, i) => v !== b[i]));
  assert.throws(() => new PrivateGradients(params(), { maxGradNorm: 0, noiseMultiplier: 1, expectedBatchSize: 1 }), /dp_max_grad_norm/);
  assert.throws(() => new PrivateGradients(params(), { maxGradNorm: 1, noiseMultiplier: -1, expectedBatchSize: 1 }), /dp_noise_multiplier/);
  assert.throws(() => new PrivateGradients(params(), { maxGradNorm: 1, noiseMultiplier: 1, expectedBatchSize: 1, clipping: "bogus" as any }), /dp_clipping must be "flat", "per_layer" or "ghost"/);
});
