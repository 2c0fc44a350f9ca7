// Row-sparse embedding gradients (src/tensor/sparse_grad.ts): with a sink registered, the embedding's
// backward hands over exactly the non-zero rows of the dense gradient and gives autograd none; a
// tied second use (a matmul with the same table) still arrives dense in .grad, and the two together
// are the dense reference. The leaf hook fires either way.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Tensor } from "../../src/tensor/tensor.js";
import { setLeafGradHook } from "../../src/tensor/autograd.js";
import { setSparseGradSink, compactIds, type SparseRows } from "../../src/tensor/sparse_grad.js";
import { embedding } from "../../src/ops/nn.js";
import { matmul } from "../../src/ops/matmul.js";
import { sum, mul } from "../../src/ops/index.js";

const V = 7, D = 3;
const ids = [[1, 4, 1, 0], [6, 4, 2, 0]];
function table(): Tensor {
  return Tensor.from(Float32Array.from({ length: V * D }, (_, i) => Math.sin(i + 1)), [V, D]).requiresGrad_();
}
function weights(): Tensor {
  return Tensor.from(Float32Array.from({ length: 2 * 4 * D }, (_, i) => Math.cos(3 * i)), [2, 4, D]);
}
function dense(rows: SparseRows[]): Float32Array {
  const out = new Float32Array(V * D);
  for (const r of rows) r.ids.forEach((id, s) => { for (let j = 0; j < D; j++) out[id * D + j] += r.rows[s * D + j]; });
  return out;
}
function close(a: ArrayLike<number>, b: ArrayLike<number>, what: string): void {
  assert.equal(a.length, b.length, what);
  for (let i = 0; i < a.length; i++) assert.ok(Math.abs(a[i] - b[i]) < 1e-6, `${what} [${i}]: ${a[i]} vs ${b[i]}`);
}

test("compactIds: distinct ids in first-seen order, slots per position, the padding id skipped", () => {
  const { ids: u, slots } = compactIds([3, 5, 3, 0, 5, 2], 6, 0);
  assert.deepEqual([...u], [3, 5, 2]);
  assert.deepEqual([...slots], [0, 1, 0, -1, 1, 2]);
});

for (const pad of [null, 0]) {
  test(`embedding backward with a sink: the dense gradient's rows, no dense .grad, the hook fires (paddingIdx ${pad})`, () => {
    const ref = table();
    sum(mul(embedding(ref, ids, { paddingIdx: pad }), weights())).backward();
    const w = table();
    const got: SparseRows[] = [];
    setSparseGradSink(w, (r) => got.push(r));
    const hooked: Tensor[] = [];
    const prev = setLeafGradHook((t) => hooked.push(t));
    try {
      sum(mul(embedding(w, ids, { paddingIdx: pad }), weights())).backward();
    } finally {
      setLeafGradHook(prev);
      setSparseGradSink(w, null);
    }
    assert.equal(w.grad, null, "no dense gradient");
    assert.equal(got.length, 1);
    assert.deepEqual([...got[0].ids].sort(), (pad === 0 ? [1, 2, 4, 6] : [0, 1, 2, 4, 6]));
    close(dense(got), ref.grad!.f32(), "rows");
    assert.ok(hooked.includes(w), "leaf hook called for the table");
  });
}

test("a tied table (embedding + matmul with the same weight): dense part in .grad + sparse rows = the dense reference", () => {
  const run = (w: Tensor) => {
    const h = embedding(w, ids); // [2, 4, D]
    const logits = matmul(h, w.transpose(0, 1)); // [2, 4, V]
    sum(mul(logits, logits)).backward();
  };
  const ref = table();
  run(ref);
  const w = table();
  const got: SparseRows[] = [];
  setSparseGradSink(w, (r) => got.push(r));
  try {
    run(w);
  } finally {
    setSparseGradSink(w, null);
  }
  assert.ok(w.grad, "the matmul's dense contribution");
  const total = dense(got);
  const g = w.grad!.f32();
  for (let i = 0; i < total.length; i++) total[i] += g[i];
  close(total, ref.grad!.f32(), "tied sum");
});

test("without a sink the gradient is dense as before", () => {
  const w = table();
  sum(mul(embedding(w, ids), weights())).backward();
  assert.deepEqual(w.grad!.shape, [V, D]);
});
