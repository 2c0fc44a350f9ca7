// The native GEMM's choice of implementation depends on the shape only, never on what the process
// computed before: a batched product repeated any number of times gives the same bits on every
// call (a resumed training run starts with no history, and must compute what the uninterrupted
// run computed; docs/DESIGN.md "Faults, atomic checkpoints and bitwise resume").
import { test } from "node:test";
import assert from "node:assert/strict";
import { loadNativeBackend, nativeUnavailableReason } from "../../src/backend/native/index.js";
import type { MatmulParams } from "../../src/backend/backend.js";
import { Rng } from "../../src/tensor/random.js";

const native = loadNativeBackend({ required: false });

// attention-like batched shapes (QKᵀ, PV, their gradients) with odd sizes, the vector products of
// decoding with a KV cache, and one above the size threshold
const SHAPES: [number, number, number, number, boolean, boolean][] = [
  [8, 12, 12, 16, false, true], [8, 12, 16, 12, false, false], [8, 12, 16, 12, true, false], [6, 33, 7, 65, false, false],
  [8, 1, 37, 16, false, true], [8, 1, 16, 37, false, false], [64, 128, 128, 64, false, true],
];

test("native batched GEMM: the first and the fifth call of a shape give the same bits", (t) => {
  if (!native) return t.skip(`no native addon: ${nativeUnavailableReason()}`);
  const rng = new Rng(99);
  for (const [batch, m, n, k, transA, transB] of SHAPES) {
    const p: MatmulParams = { batch, m, n, k, transA, transB, strideA: m * k, strideB: k * n, strideOut: m * n, accumulate: false };
    const a = rng.fillNormal(new Float32Array(batch * m * k), 0, 1), b = rng.fillNormal(new Float32Array(batch * k * n), 0, 1);
    const first = new Float32Array(batch * m * n);
    native.matmul(a, b, first, p);
    for (let call = 2; call <= 5; call++) {
      const again = new Float32Array(batch * m * n);
      native.matmul(a, b, again, p);
      const i = again.findIndex((v, j) => !Object.is(v, first[j]));
      assert.equal(i, -1, `shape ${JSON.stringify(p)}: call ${call} differs at ${i}: ${again[i]} vs ${first[i]}`);
    }
  }
});
