import { test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { AutoModelForCausalLM } from "../../src/models/auto.js";
import { selectToken } from "../../src/models/generate.js";
import { Rng } from "../../src/tensor/random.js";
import { ConfigError } from "../../src/tensor/errors.js";
import { GOLDEN } from "./helpers.js";

const greedy = { doSample: false, temperature: 1, topK: 0, topP: 1, repetitionPenalty: 1 };

test("repetition penalty (HF): seen tokens' positive scores are divided, negative ones multiplied", () => {
  const s = Float32Array.from([2, -2, 1.5, 0.5]);
  // token 0 (2 → 1) and token 1 (−2 → −4) are penalised; token 2 (1.5) wins
  assert.equal(selectToken(s, [0, 1, 1], { ...greedy, repetitionPenalty: 2 }, new Rng(0)), 2);
  assert.deepEqual(Array.from(s), [1, -4, 1.5, 0.5]);
});

test("top-k and top-p restrict sampling to the allowed set; sampling is seeded", () => {
  const logits = [3, 2.9, 1, 0.5, -1, -2];
  const sample = (o: object, seed: number) => {
    const rng = new Rng(seed);
    const seen = new Set<number>();
    for (let i = 0; i < 300; i++) seen.add(selectToken(Float32Array.from(logits), [], { ...greedy, doSample: true, ...o }, rng));
    return [...seen].sort();
  };
  assert.deepEqual(sample({ topK: 2 }, 1), [0, 1]);
  assert.deepEqual(sample({ topK: 1 }, 2), [0]);
  // probabilities ≈ [.47, .43, .06, .04, …]: top-p 0.5 keeps the two largest (cumulative from the tail ≤ 0.5 removed)
  assert.deepEqual(sample({ topK: 0, topP: 0.5 }, 3), [0, 1]);
  assert.deepEqual(sample({ topK: 0, topP: 0.3 }, 3), [0]);
  assert.deepEqual(sample({ topK: 0, topP: 1 }, 4).length, 6);
  const a = Array.from({ length: 20 }, (_, i) => selectToken(Float32Array.from(logits), [], { ...greedy, doSample: true, topK: 0 }, new Rng(i)));
  const b = Array.from({ length: 20 }, (_, i) => selectToken(Float32Array.from(logits), [], { ...greedy, doSample: true, topK: 0 }, new Rng(i)));
  assert.deepEqual(a, b);
});

test("generate: seeded sampling is reproducible, low temperature approaches greedy, eos stops and pads", async () => {
  const model = await AutoModelForCausalLM.fromPretrained(join(GOLDEN, "llama-tiny-random"));
  const prompt = [[1, 17, 42, 99, 7]];
  const s1 = model.generate(prompt, { doSample: true, maxNewTokens: 8, rng: new Rng(5), eosTokenId: null });
  const s2 = model.generate(prompt, { doSample: true, maxNewTokens: 8, rng: new Rng(5), eosTokenId: null });
  assert.deepEqual(s1, s2);
  const g = model.generate(prompt, { maxNewTokens: 8, eosTokenId: null });
  assert.deepEqual(model.generate(prompt, { doSample: true, topK: 1, maxNewTokens: 8, rng: new Rng(9), eosTokenId: null }), g);
  // stop at the first greedy token: that row ends with it
  const stopAt = g[0][5];
  const stopped = model.generate([prompt[0], [1, 3]], { maxNewTokens: 8, eosTokenId: stopAt, padTokenId: 0 });
  assert.equal(stopped[0][5], stopAt);
  const r0 = stopped[0].slice(5);
  assert.ok(r0.length === 1 || r0.slice(1).every((x) => x === 0), "finished row is filled with pad");
  assert.throws(() => model.generate(prompt, { doSample: true, temperature: 0 }), ConfigError);
});

test("gpt2 generation with and without cache agree", async () => {
  const model = await AutoModelForCausalLM.fromPretrained(join(GOLDEN, "gpt2-tiny-random"));
  const prompts = [[287, 282, 79], [291, 69, 221, 279, 315]];
  const a = model.generate(prompts, { maxNewTokens: 6, eosTokenId: null, padTokenId: 0 });
  const b = model.generate(prompts, { maxNewTokens: 6, eosTokenId: null, padTokenId: 0, useCache: false });
  assert.deepEqual(a, b);
  assert.deepEqual(a[0].slice(0, 2), [0, 0]);
});

test("logitsToKeep (transformers' logits_to_keep): the last N positions' logits equal the full logits' rows; refused with labels", async () => {
  for (const name of ["llama-tiny-random", "gpt2-tiny-random"]) {
    const model = await AutoModelForCausalLM.fromPretrained(join(GOLDEN, name));
    const inputIds = [[1, 17, 42, 99, 7], [3, 5, 8, 13, 21]];
    const full = model.forward({ inputIds }).logits!;
    const [B, T, V] = full.shape;
    for (const n of [1, 2]) {
      const kept = model.forward({ inputIds, logitsToKeep: n }).logits!;
      assert.deepEqual(kept.shape, [B, n, V], `${name} logitsToKeep ${n}`);
      const f = full.f32(), k = kept.f32();
      for (let b = 0; b < B; b++) for (let t = 0; t < n; t++) for (let v = 0; v < V; v++) {
        const want = f[(b * T + T - n + t) * V + v], got = k[(b * n + t) * V + v];
        assert.ok(Math.abs(want - got) <= 1e-5 * Math.max(1, Math.abs(want)), `${name} [${b}, ${t}, ${v}]: ${got} vs ${want}`);
      }
    }
    assert.deepEqual(model.forward({ inputIds, logitsToKeep: 9 }).logits!.shape, [B, T, V], "more than T keeps all");
    assert.throws(() => model.forward({ inputIds, labels: inputIds, logitsToKeep: 1 }), (e: unknown) => e instanceof ConfigError && /without labels/.test((e as Error).message));
  }
});
