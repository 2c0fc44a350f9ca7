// The decode path of generate: a preallocated KV cache extended in place, so a step allocates the same
// tensors whatever the sequence length, with greedy outputs identical to recomputing without a cache.
import { test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { AutoModelForCausalLM } from "../../src/models/auto.js";
import { Tensor } from "../../src/tensor/tensor.js";
import { allocStats, resetAllocStats } from "../../src/tensor/alloc_stats.js";
import { preallocateCache, withPast } from "../../src/nn/kv_cache.js";
import { GOLDEN } from "./helpers.js";

const seq = (shape: number[], start: number) => {
  const n = shape.reduce((a, b) => a * b, 1);
  return new Tensor(Float32Array.from({ length: n }, (_, i) => start + i), shape);
};

test("preallocated KV cache: withPast writes in place and returns the joined view; reusing an older view copies", () => {
  const k0 = seq([1, 2, 3, 2], 0), v0 = seq([1, 2, 3, 2], 100);
  const [c] = preallocateCache([{ key: k0, value: v0 }], 5);
  assert.deepEqual(c.key.toArray(), k0.toArray());
  const k1 = seq([1, 2, 1, 2], 50), v1 = seq([1, 2, 1, 2], 150);
  const a = withPast(c, k1, v1);
  assert.equal(a.key.storage, c.key.storage, "written into the cache's buffer");
  const want = (x: Tensor, y: Tensor) => {
    const xs = x.toArray() as number[][][][], ys = y.toArray() as number[][][][];
    return [[0, 1].map((h) => [...xs[0][h], ...ys[0][h]])];
  };
  assert.deepEqual(a.key.toArray(), want(k0, k1));
  assert.deepEqual(a.value.toArray(), want(v0, v1));
  // the older view c (length 3) used again: a fresh concatenation, a's contents untouched
  const k2 = seq([1, 2, 1, 2], 70), v2 = seq([1, 2, 1, 2], 170);
  const b = withPast(c, k2, v2);
  assert.notEqual(b.key.storage, c.key.storage);
  assert.deepEqual(b.key.toArray(), want(k0, k2));
  assert.deepEqual(a.key.toArray(), want(k0, k1));
});

test("greedy decode of 64 tokens: per-step allocations do not grow with the sequence; same ids as without a cache", async () => {
  const model = await AutoModelForCausalLM.fromPretrained(join(GOLDEN, "llama-tiny-random"));
  const prompt = [[1, 17, 42, 99, 7]];
  const steps: { count: number; elements: number; largest: number }[] = [];
  const ids = model.generate(prompt, {
    maxNewTokens: 64, eosTokenId: null,
    onToken: () => {
      steps.push({ ...allocStats });
      resetAllocStats();
    },
  });
  assert.equal(ids[0].length, 5 + 64);
  // steps[0] is the prompt; steps[1] the first cached step (its counter started mid-prompt-step); from
  // the second cached step on every step allocates exactly the same buffers
  const ref = steps[2];
  for (let s = 3; s < steps.length; s++) {
    assert.deepEqual(steps[s], ref, `step ${s} allocated ${JSON.stringify(steps[s])}, step 2 ${JSON.stringify(ref)}`);
  }
  console.log(`# per decode step: ${ref.count} buffers, ${ref.elements} elements (largest ${ref.largest})`);
  assert.deepEqual(model.generate(prompt, { maxNewTokens: 64, eosTokenId: null, useCache: false }), ids);
});
