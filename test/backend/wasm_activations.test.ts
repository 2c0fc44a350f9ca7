// The wasm backend's vectorised activations against the TS reference: gelu (f32 erfc approximation) on a
// dense grid over [−12, 12] within 1e-6 absolute, forward and derivative; siluMul and its backward
// (f32 SIMD exp). wasm.test.ts has the other activation checks.
import { test } from "node:test";
import assert from "node:assert/strict";
import { tsBackend as ts } from "../../src/backend/ts/index.js";
import { loadWasmBackend } from "../../src/backend/wasm/index.js";
import { Rng } from "../../src/tensor/random.js";
import { close } from "./wasm_helpers.js";

const W = loadWasmBackend();
const rng = new Rng(4242);
const randn = (n: number, scale = 1) => rng.fillNormal(new Float32Array(n), 0, scale);

test("wasm gelu and its derivative are within 1e-6 absolute of the TS reference on [-12, 12] (step 1e-3)", () => {
  const n = 24001, x = Float32Array.from({ length: n }, (_, i) => -12 + i * 1e-3), gy = new Float32Array(n).fill(1);
  const y1 = new Float32Array(n), y2 = new Float32Array(n), g1 = new Float32Array(n), g2 = new Float32Array(n);
  W.unary("gelu", x, y1, 0);
  ts.unary("gelu", x, y2, 0);
  W.unaryBackward("gelu", x, y2, gy, g1, 0);
  ts.unaryBackward("gelu", x, y2, gy, g2, 0);
  let worst = 0, worstGrad = 0;
  for (let i = 0; i < n; i++) {
    worst = Math.max(worst, Math.abs(y1[i] - y2[i]));
    worstGrad = Math.max(worstGrad, Math.abs(g1[i] - g2[i]));
  }
  assert.ok(worst <= 1e-6, `gelu: max |Δ| ${worst}`);
  assert.ok(worstGrad <= 1e-6, `gelu': max |Δ| ${worstGrad}`);
});

test("wasm siluMul / siluMulBackward agree with TS (f32 SIMD exp: 1e-5 relative, 1e-6 absolute)", () => {
  for (const n of [1, 7, 33, 65, 10007]) {
    const g = randn(n, 3), u = randn(n), gy = randn(n);
    if (n > 7) { g[0] = 0; g[1] = 40; g[2] = -40; g[3] = -1.2785; }
    const o1 = new Float32Array(n), o2 = new Float32Array(n);
    W.siluMul(g, u, o1);
    ts.siluMul(g, u, o2);
    close(o1, o2, 1e-5, 1e-6, `siluMul n=${n}`);
    const a1 = new Float32Array(n), b1 = new Float32Array(n), a2 = new Float32Array(n), b2 = new Float32Array(n);
    W.siluMulBackward(g, u, gy, a1, b1);
    ts.siluMulBackward(g, u, gy, a2, b2);
    close(a1, a2, 1e-5, 1e-6, `siluMulBackward gGate n=${n}`);
    close(b1, b2, 1e-5, 1e-6, `siluMulBackward gUp n=${n}`);
  }
});
