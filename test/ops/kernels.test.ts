// Contract tests for the nn kernels (src/backend/backend.ts), run on the TS backend and, when the
// native addon is built, on the native backend too (plus agreement with TS on odd random shapes).
import { test } from "node:test";
import assert from "node:assert/strict";
import type { FullBackend } from "../../src/backend/backend.js";
import { tsBackend } from "../../src/backend/registry.js";
import { loadNativeBackend } from "../../src/backend/native/index.js";
import { Rng } from "../../src/tensor/random.js";
import { assertClose } from "../helpers/gradcheck.js";

const native = loadNativeBackend({ required: false });
const backends: FullBackend[] = native && native.name === "native" ? [tsBackend, native] : [tsBackend];
const rng = new Rng(99);
const rand = (n: number, s = 1) => rng.fillNormal(new Float32Array(n), 0, s);
const garbage = (n: number) => new Float32Array(n).fill(123.5);

for (const be of backends) {
  test(`${be.name}: softmax rows sum to 1; logSoftmax is log of it; backward formulas`, () => {
    const rows = 5, cols = 13;
    const x = rand(rows * cols, 3), y = garbage(x.length), ly = garbage(x.length);
    be.softmax(x, y, rows, cols);
    be.logSoftmax(x, ly, rows, cols);
    for (let r = 0; r < rows; r++) {
      const s = y.subarray(r * cols, r * cols + cols).reduce((a, b) => a + b, 0);
      assert.ok(Math.abs(s - 1) < 1e-6);
    }
    assertClose(ly, Array.from(y, Math.log), 1e-5, 1e-5, "log softmax");
    const gy = rand(x.length), gx = garbage(x.length), gl = garbage(x.length);
    be.softmaxBackward(y, gy, gx, rows, cols);
    be.logSoftmaxBackward(ly, gy, gl, rows, cols);
    for (let r = 0; r < rows; r++) {
      let dot = 0, s = 0;
      for (let c = 0; c < cols; c++) { dot += gy[r * cols + c] * y[r * cols + c]; s += gy[r * cols + c]; }
      for (let c = 0; c < cols; c++) {
        const i = r * cols + c;
        assert.ok(Math.abs(gx[i] - y[i] * (gy[i] - dot)) < 1e-5);
        assert.ok(Math.abs(gl[i] - (gy[i] - y[i] * s)) < 1e-5);
      }
    }
  });

  test(`${be.name}: layerNorm/rmsNorm normalise rows, save stats, and accumulate gw/gb (+=)`, () => {
    const rows = 3, cols = 7;
    const x = rand(rows * cols, 2), w = rand(cols), b = rand(cols);
    const out = garbage(x.length), mean = garbage(rows), rstd = garbage(rows);
    be.layerNorm(x, null, null, out, mean, rstd, rows, cols, 1e-5);
    for (let r = 0; r < rows; r++) {
      const row = out.subarray(r * cols, r * cols + cols);
      const m = row.reduce((a, v) => a + v, 0) / cols, v = row.reduce((a, q) => a + q * q, 0) / cols;
      assert.ok(Math.abs(m) < 1e-5 && Math.abs(v - 1) < 1e-3, `row ${r}: mean ${m} var ${v}`);
      const xm = x.subarray(r * cols, r * cols + cols).reduce((a, q) => a + q, 0) / cols;
      assert.ok(Math.abs(mean[r] - xm) < 1e-5);
    }
    const gy = rand(x.length), gx = garbage(x.length);
    const gw = Float32Array.from(w, () => 1), gb = Float32Array.from(b, () => 2); // pre-filled: must be added to
    be.layerNorm(x, w, b, out, mean, rstd, rows, cols, 1e-5);
    be.layerNormBackward(x, w, mean, rstd, gy, gx, gw, gb, rows, cols);
    for (let c = 0; c < cols; c++) {
      let sb = 0, sw = 0;
      for (let r = 0; r < rows; r++) { sb += gy[r * cols + c]; sw += gy[r * cols + c] * (x[r * cols + c] - mean[r]) * rstd[r]; }
      assert.ok(Math.abs(gb[c] - (2 + sb)) < 1e-5, "gb accumulates");
      assert.ok(Math.abs(gw[c] - (1 + sw)) < 1e-5, "gw accumulates");
    }
    const ro = garbage(x.length), rs = garbage(rows);
    be.rmsNorm(x, null, ro, rs, rows, cols, 1e-6);
    for (let r = 0; r < rows; r++) {
      const ms = ro.subarray(r * cols, r * cols + cols).reduce((a, q) => a + q * q, 0) / cols;
      assert.ok(Math.abs(ms - 1) < 1e-4);
    }
    const rgw = Float32Array.from(w, () => 1);
    be.rmsNormBackward(x, w, rs, gy, gx, rgw, rows, cols);
    for (let c = 0; c < cols; c++) {
      let sw = 0;
      for (let r = 0; r < rows; r++) sw += gy[r * cols + c] * x[r * cols + c] * rs[r];
      assert.ok(Math.abs(rgw[c] - (1 + sw)) < 1e-5, "rms gw accumulates");
    }
  });

  test(`${be.name}: crossEntropy writes loss 0 and zero gradient for ignored rows`, () => {
    const rows = 4, cols = 6;
    const logits = rand(rows * cols), labels = Int32Array.of(2, -100, 5, 0);
    const loss = garbage(rows), lse = garbage(rows), g = garbage(rows * cols);
    be.crossEntropy(logits, labels, loss, lse, rows, cols, -100, 0.1);
    assert.equal(loss[1], 0);
    // lse is written for every row, ignored ones included
    for (let r = 0; r < rows; r++) {
      let s = 0;
      for (let c = 0; c < cols; c++) s += Math.exp(logits[r * cols + c]);
      assert.ok(Math.abs(lse[r] - Math.log(s)) < 1e-5, `lse row ${r}`);
    }
    be.crossEntropyBackward(logits, lse, labels, Float32Array.of(1, 1, 0.5, 2), g, rows, cols, -100, 0.1);
    assert.ok(g.subarray(cols, 2 * cols).every((v) => v === 0));
    // each non-ignored row's gradient sums to 0 (softmax minus a distribution)
    for (const r of [0, 2, 3]) assert.ok(Math.abs(g.subarray(r * cols, r * cols + cols).reduce((a, b) => a + b, 0)) < 1e-6);
  });

  test(`${be.name}: attentionBackward writes (does not accumulate) gq/gk/gv`, () => {
    const p = { batch: 2, heads: 4, kvHeads: 2, tq: 3, tk: 5, headDim: 3, scale: 0.5, causal: true };
    const q = rand(2 * 4 * 3 * 3), k = rand(2 * 2 * 5 * 3), v = rand(2 * 2 * 5 * 3);
    const out = garbage(q.length), probs = garbage(2 * 4 * 3 * 5), gOut = rand(q.length);
    be.attention(q, k, v, null, out, probs, p);
    const run = (fill: number) => {
      const gq = new Float32Array(q.length).fill(fill), gk = new Float32Array(k.length).fill(fill), gv = new Float32Array(v.length).fill(fill);
      be.attentionBackward(q, k, v, probs, gOut, gq, gk, gv, p);
      return [gq, gk, gv];
    };
    const a = run(0), b = run(77);
    // equal up to float noise (threaded kernels may sum in a different order), not offset by the fill
    for (let i = 0; i < 3; i++) assertClose(b[i], a[i], 1e-5, 1e-5, `gradient buffer ${i}`);
  });

  test(`${be.name}: embeddingBackward scatter-adds into the existing gradient`, () => {
    const gw = new Float32Array(6).fill(1);
    be.embeddingBackward(Float32Array.of(1, 2, 3, 4, 5, 6), Int32Array.of(2, 0, 2), gw, 2);
    assert.deepEqual(Array.from(gw), [4, 5, 1, 1, 7, 9]);
  });
}

if (backends.length > 1) {
  test("native nn kernels agree with the TS reference on odd random shapes", () => {
    const [ts, nb] = backends;
    for (const [rows, cols] of [[1, 2], [3, 17], [7, 33], [2, 1031]]) {
      const x = rand(rows * cols, 2), w = rand(cols), b = rand(cols), gy = rand(rows * cols);
      const pair = (f: (be: FullBackend, ...bufs: Float32Array[]) => void, sizes: number[]) => {
        const A = sizes.map((n) => new Float32Array(n)), B = sizes.map((n) => new Float32Array(n));
        f(ts, ...A);
        f(nb, ...B);
        A.forEach((a, i) => assertClose(B[i], a, 1e-5, 1e-4, `${f.name || "kernel"} [${rows}x${cols}] buffer ${i}`));
      };
      pair((be, o) => be.softmax(x, o, rows, cols), [rows * cols]);
      pair((be, o) => be.logSoftmax(x, o, rows, cols), [rows * cols]);
      pair((be, o, m, r, gx, gw, gb) => { be.layerNorm(x, w, b, o, m, r, rows, cols, 1e-5); be.layerNormBackward(x, w, m, r, gy, gx, gw, gb, rows, cols); }, [rows * cols, rows, rows, rows * cols, cols, cols]);
      pair((be, o, r, gx, gw) => { be.rmsNorm(x, w, o, r, rows, cols, 1e-6); be.rmsNormBackward(x, w, r, gy, gx, gw, rows, cols); }, [rows * cols, rows, rows * cols, cols]);
      const labels = Int32Array.from({ length: rows }, (_, r) => (r % 3 === 1 ? -100 : r % cols));
      pair((be, l, ls, g) => { be.crossEntropy(x, labels, l, ls, rows, cols, -100, 0.1); be.crossEntropyBackward(x, ls, labels, Float32Array.from({ length: rows }, () => 0.7), g, rows, cols, -100, 0.1); }, [rows, rows, rows * cols]);
      const pm = rand(cols), pv = new Float32Array(cols).fill(0.01);
      pair((be, p, m, v) => { p.set(w); m.set(pm); v.set(pv); be.adamw(p, b, m, v, { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01, step: 3 }); }, [cols, cols, cols]);
    }
    for (const p of [
      { batch: 2, heads: 4, kvHeads: 2, tq: 5, tk: 7, headDim: 8, scale: 0.35, causal: true },
      { batch: 1, heads: 3, kvHeads: 3, tq: 9, tk: 9, headDim: 5, scale: 0.4, causal: false },
      // Tq > Tk with causal: the first query rows see no key at all (HF gives them uniform weights)
      { batch: 2, heads: 2, kvHeads: 1, tq: 6, tk: 4, headDim: 4, scale: 0.5, causal: true },
    ]) {
      const nq = p.batch * p.heads * p.tq * p.headDim, nk = p.batch * p.kvHeads * p.tk * p.headDim;
      const q = rand(nq), k = rand(nk), v = rand(nk), g = rand(nq);
      const mask = Float32Array.from({ length: p.batch * p.tk }, (_, i) => (i % 4 === 3 ? -3.4028234663852886e38 : 0));
      const res = backends.map((be) => {
        const out = new Float32Array(nq), probs = new Float32Array(p.batch * p.heads * p.tq * p.tk);
        const gq = new Float32Array(nq), gk = new Float32Array(nk), gv = new Float32Array(nk);
        be.attention(q, k, v, mask, out, probs, p);
        be.attentionBackward(q, k, v, probs, g, gq, gk, gv, p);
        return [out, probs, gq, gk, gv];
      });
      res[0].forEach((a, i) => assertClose(res[1][i], a, 1e-5, 1e-4, `attention ${JSON.stringify(p)} buffer ${i}`));
    }
  });
}
