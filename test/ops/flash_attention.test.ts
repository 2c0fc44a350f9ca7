// The memory-linear attention kernels (flashAttention / flashAttentionBackward) against the eager ones
// on the TS backend and, when built, the native one: outputs, gradients, GQA, padding, causal with a
// cache offset, rows that see no unmasked key, multi-block lengths, counter-based dropout; the op
// against finite differences; and the memory the op allocates growing linearly in the sequence length.
import { test } from "node:test";
import assert from "node:assert/strict";
import type { AttentionParams, FullBackend } from "../../src/backend/backend.js";
import { MASK_MIN } from "../../src/backend/backend.js";
import { tsBackend, getBackend } from "../../src/backend/registry.js";
import { loadNativeBackend } from "../../src/backend/native/index.js";
import { Rng } from "../../src/tensor/random.js";
import { xoshiroNext } from "../../src/tensor/xoshiro.js";
import { allocStats, resetAllocStats } from "../../src/tensor/alloc_stats.js";
import * as ops from "../../src/ops/index.js";
import { assertClose, gradcheck, randn } from "../helpers/gradcheck.js";

const native = loadNativeBackend({ required: false });
const backends: FullBackend[] = native && native.name === "native" && native.supports("flashAttention") ? [tsBackend, native] : [tsBackend];
if (backends.length === 1) console.log("# flash attention: native addon without flashAttention (or not built): TS backend only");
const rng = new Rng(5);
const rand = (n: number, s = 1) => rng.fillNormal(new Float32Array(n), 0, s);

interface Case { p: AttentionParams; mask: "none" | "pad" | "left"; dropP: number }
const cases: Case[] = [
  { p: { batch: 2, heads: 4, kvHeads: 2, tq: 5, tk: 7, headDim: 8, scale: 0.35, causal: true }, mask: "pad", dropP: 0 },
  { p: { batch: 1, heads: 3, kvHeads: 3, tq: 9, tk: 9, headDim: 5, scale: 0.4, causal: false }, mask: "pad", dropP: 0 },
  // Tq > Tk with causal: the first query rows see no key (uniform weights over all keys)
  { p: { batch: 2, heads: 2, kvHeads: 1, tq: 6, tk: 4, headDim: 4, scale: 0.5, causal: true }, mask: "pad", dropP: 0 },
  // left padding, causal: the padded query rows' visible keys are all masked (uniform over all keys)
  { p: { batch: 2, heads: 2, kvHeads: 2, tq: 12, tk: 12, headDim: 4, scale: 0.5, causal: true }, mask: "left", dropP: 0 },
  // several query and key blocks (32 × 64), GQA, causal
  { p: { batch: 1, heads: 4, kvHeads: 1, tq: 70, tk: 150, headDim: 16, scale: 0.25, causal: true }, mask: "pad", dropP: 0 },
  { p: { batch: 2, heads: 2, kvHeads: 1, tq: 67, tk: 67, headDim: 8, scale: 0.3, causal: true }, mask: "none", dropP: 0 },
  // attention dropout: the multipliers regenerated in the kernels equal dropoutMask's
  { p: { batch: 2, heads: 4, kvHeads: 2, tq: 40, tk: 40, headDim: 8, scale: 0.35, causal: true }, mask: "pad", dropP: 0.2 },
  { p: { batch: 1, heads: 2, kvHeads: 2, tq: 9, tk: 9, headDim: 4, scale: 0.5, causal: false }, mask: "none", dropP: 1 },
];

function maskFor(c: Case): Float32Array | null {
  const { batch: B, tk: Tk } = c.p;
  if (c.mask === "none") return null;
  // "pad": every 4th key dropped; "left": batch row 1 has 5 leading pads
  return Float32Array.from({ length: B * Tk }, (_, i) => {
    const b = Math.floor(i / Tk), j = i % Tk;
    const drop = c.mask === "pad" ? i % 4 === 3 : b === 1 && j < 5;
    return drop ? MASK_MIN : 0;
  });
}

for (const be of backends) {
  test(`${be.name}: flashAttention(+Backward) equals the eager attention kernels`, () => {
    for (const c of cases) {
      const { p } = c;
      const nq = p.batch * p.heads * p.tq * p.headDim, nk = p.batch * p.kvHeads * p.tk * p.headDim, np = p.batch * p.heads * p.tq * p.tk;
      const q = rand(nq), k = rand(nk), v = rand(nk), g = rand(nq), mask = maskFor(c);
      const state = new Uint32Array([11, 22, 33, 44 + c.p.tq]);
      const keep = c.dropP === 1 ? 0 : 1 / (1 - c.dropP);
      const ks = state.slice();
      const k0 = xoshiroNext(ks), k1 = xoshiroNext(ks);
      const drop = c.dropP > 0 ? { k0, k1, p: c.dropP, keepScale: keep } : null;
      let dropBuf: Float32Array | null = null;
      if (drop) { dropBuf = new Float32Array(np); be.dropoutMask(state.slice(), dropBuf, c.dropP, keep); }
      const want = { out: new Float32Array(nq), gq: new Float32Array(nq), gk: new Float32Array(nk), gv: new Float32Array(nk) };
      const probs = new Float32Array(np);
      be.attention(q, k, v, mask, want.out, probs, p, dropBuf);
      be.attentionBackward(q, k, v, probs, g, want.gq, want.gk, want.gv, p, dropBuf);
      const got = { out: new Float32Array(nq).fill(7), gq: new Float32Array(nq).fill(7), gk: new Float32Array(nk).fill(7), gv: new Float32Array(nk).fill(7) };
      const stats = new Float32Array(2 * p.batch * p.heads * p.tq);
      be.flashAttention(q, k, v, mask, got.out, stats, p, drop);
      be.flashAttentionBackward(q, k, v, mask, got.out, stats, g, got.gq, got.gk, got.gv, p, drop);
      const what = `${JSON.stringify(p)} mask ${c.mask} dropout ${c.dropP}`;
      assertClose(got.out, want.out, 1e-5, 1e-5, `out ${what}`);
      assertClose(got.gq, want.gq, 2e-5, 1e-4, `gq ${what}`);
      assertClose(got.gk, want.gk, 2e-5, 1e-4, `gk ${what}`);
      assertClose(got.gv, want.gv, 2e-5, 1e-4, `gv ${what}`);
    }
  });
}

test("scaledDotProductAttention (memory-linear path): gradients match finite differences, with GQA, padding and causal", () => {
  assert.ok(getBackend().supports("flashAttention"), `backend ${getBackend().name} has no flashAttention: this test checks that path`);
  ops.setAttentionKernels("flash");
  // (no row with every visible key masked: there the score is absorbed into MASK_MIN and the eager
  // path, like PyTorch, still passes the additive mask's gradient, which differences cannot see)
  const keyMask = [[1, 1, 1, 1, 0], [1, 0, 0, 1, 1]];
  const q = randn([2, 4, 5, 3], rng), k = randn([2, 2, 5, 3], rng), v = randn([2, 2, 5, 3], rng);
  try {
    gradcheck((a, b, c) => ops.scaledDotProductAttention(a, b, c, { keyMask, causal: true }), [q, k, v], { name: "flash sdpa" });
  } finally {
    ops.setAttentionKernels("auto");
  }
});

test("scaledDotProductAttention: flash path equals the eager path (forward 1e-5, gradients), also with dropout", () => {
  const keyMask = [[1, 1, 1, 1, 1, 1, 0, 0], [0, 0, 1, 1, 1, 1, 1, 1]];
  const run = (kind: "flash" | "eager", dropoutP: number) => {
    ops.setAttentionKernels(kind);
    const r = new Rng(3);
    const q = randn([2, 4, 8, 6], r), k = randn([2, 2, 8, 6], r), v = randn([2, 2, 8, 6], r);
    for (const t of [q, k, v]) t.requiresGrad = true;
    const out = ops.scaledDotProductAttention(q, k, v, { keyMask, causal: true, dropoutP, training: true, rng: new Rng(9) });
    out.backward(randn(out.shape, new Rng(4)));
    return [out, q.grad!, k.grad!, v.grad!].map((t) => t.f32());
  };
  try {
    for (const dropoutP of [0, 0.3]) {
      const eager = run("eager", dropoutP), flash = run("flash", dropoutP);
      ["out", "gq", "gk", "gv"].forEach((n, i) => assertClose(flash[i], eager[i], 1e-5, 1e-4, `${n} dropout ${dropoutP}`));
    }
  } finally {
    ops.setAttentionKernels("auto");
  }
});

test("attention memory grows linearly in T: tensors allocated by forward + backward at T=1024 vs T=512 ≈ 2× (eager path: 4×)", () => {
  const measure = (T: number) => {
    const r = new Rng(1);
    const q = randn([1, 2, T, 8], r), k = randn([1, 1, T, 8], r), v = randn([1, 1, T, 8], r);
    for (const t of [q, k, v]) t.requiresGrad = true;
    const g = randn([1, 2, T, 8], r);
    resetAllocStats();
    const out = ops.scaledDotProductAttention(q, k, v, { causal: true });
    const forward = allocStats.elements; // kept until backward: the output and per-row stats
    out.backward(g);
    return { forward, total: allocStats.elements, largest: allocStats.largest };
  };
  const ratio = (kind: "auto" | "eager") => {
    ops.setAttentionKernels(kind);
    try {
      const a = measure(512), b = measure(1024);
      return { forward: b.forward / a.forward, total: b.total / a.total, largest: b.largest / a.largest };
    } finally {
      ops.setAttentionKernels("auto");
    }
  };
  // "auto" (the default) takes the memory-linear kernels where the backend has them
  assert.ok(getBackend().supports("flashAttention"), `backend ${getBackend().name} has no flashAttention: this test checks that path`);
  const flash = ratio("auto"), eager = ratio("eager");
  console.log(`# allocated elements T=1024 / T=512: flash forward ${flash.forward.toFixed(2)}×, fwd+bwd ${flash.total.toFixed(2)}×, largest buffer ${flash.largest.toFixed(2)}×; eager ${eager.forward.toFixed(2)}× / ${eager.total.toFixed(2)}× / ${eager.largest.toFixed(2)}×`);
  for (const [n, x] of Object.entries(flash)) assert.ok(x > 1.9 && x < 2.1, `flash ${n} ratio ${x} (expected ≈ 2)`);
  assert.ok(eager.largest > 3.9, `the eager path allocates [T,T] probabilities (ratio ${eager.largest}), so the test can tell them apart`);
});
