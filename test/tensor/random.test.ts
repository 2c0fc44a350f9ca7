import { test } from "node:test";
import assert from "node:assert/strict";
import { Rng, globalRng, manualSeed } from "../../src/tensor/random.js";

test("same seed, same stream; different seeds differ", () => {
  const a = new Rng(42), b = new Rng(42), c = new Rng(43);
  const sa = Array.from({ length: 20 }, () => a.nextU32());
  const sb = Array.from({ length: 20 }, () => b.nextU32());
  const sc = Array.from({ length: 20 }, () => c.nextU32());
  assert.deepEqual(sa, sb);
  assert.notDeepEqual(sa, sc);
  manualSeed(7);
  const g1 = [globalRng.random(), globalRng.normal()];
  manualSeed(7);
  assert.deepEqual([globalRng.random(), globalRng.normal()], g1);
  // reseeding also drops a cached normal
  const r = new Rng(1);
  r.normal();
  r.seed(1);
  const fresh = new Rng(1);
  assert.equal(r.normal(), fresh.normal());
});

test("getState / setState resumes exactly the same stream (including a cached normal)", () => {
  const r = new Rng(5);
  for (let i = 0; i < 10; i++) r.random();
  r.normal(); // leaves a spare normal cached
  const state = JSON.parse(JSON.stringify(r.getState())); // survives a checkpoint round trip
  const next = [r.normal(), r.random(), r.nextU32(), r.normal()];
  const q = new Rng(999);
  q.setState(state);
  assert.deepEqual([q.normal(), q.random(), q.nextU32(), q.normal()], next);
});

test("ranges: random in [0,1), randint in [0,n), uniform in [low,high)", () => {
  const r = new Rng(3);
  for (let i = 0; i < 2000; i++) {
    const u = r.random();
    assert.ok(u >= 0 && u < 1);
    const k = r.randint(7);
    assert.ok(Number.isInteger(k) && k >= 0 && k < 7);
    const v = r.uniform(-2, 3);
    assert.ok(v >= -2 && v < 3);
  }
});

test("permutation is a permutation and is seeded", () => {
  const r = new Rng(11);
  for (const n of [0, 1, 2, 17, 100]) {
    const p = r.permutation(n);
    assert.deepEqual([...p].sort((a, b) => a - b), Array.from({ length: n }, (_, i) => i));
  }
  assert.deepEqual(new Rng(4).permutation(50), new Rng(4).permutation(50));
  assert.notDeepEqual(new Rng(4).permutation(50), new Rng(5).permutation(50));
});

test("normal / uniform / bernoulli moments (generous bounds)", () => {
  const r = new Rng(2024);
  const n = 20000;
  const x = r.fillNormal(new Float32Array(n), 1.5, 2);
  const mean = x.reduce((s, v) => s + v, 0) / n;
  const variance = x.reduce((s, v) => s + (v - mean) ** 2, 0) / n;
  assert.ok(Math.abs(mean - 1.5) < 0.1, `normal mean ${mean}`);
  assert.ok(Math.abs(variance - 4) < 0.3, `normal variance ${variance}`);
  const u = r.fillUniform(new Float32Array(n), 0, 1);
  const um = u.reduce((s, v) => s + v, 0) / n;
  assert.ok(Math.abs(um - 0.5) < 0.02, `uniform mean ${um}`);
  let hits = 0;
  for (let i = 0; i < n; i++) if (r.bernoulli(0.3)) hits++;
  assert.ok(Math.abs(hits / n - 0.3) < 0.02, `bernoulli rate ${hits / n}`);
});
