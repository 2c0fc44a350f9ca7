import { test } from "node:test";
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { tsBackend } from "../../src/backend/registry.js";
import { getBackend } from "../../src/backend/registry.js";
import { assertClose } from "../helpers/gradcheck.js";
import { readSafetensors } from "../helpers/safetensors_min.js";

const golden = (p: string) => fileURLToPath(new URL(`../../../shared/golden/${p}`, import.meta.url));

test("adamw kernel: closed form over several steps (double-precision reference of the PyTorch formula)", () => {
  const hp = { lr: 0.01, beta1: 0.9, beta2: 0.99, eps: 1e-8, weightDecay: 0.1 };
  const p = Float32Array.of(1, -2, 0.5), m = new Float32Array(3), v = new Float32Array(3);
  const P = [1, -2, 0.5], M = [0, 0, 0], V = [0, 0, 0];
  const grads = [[0.1, -0.3, 2], [0.2, 0.1, -1], [-0.5, 0, 0.3]];
  grads.forEach((g, s) => {
    const step = s + 1;
    tsBackend.adamw(p, Float32Array.from(g), m, v, { ...hp, step });
    for (let i = 0; i < 3; i++) {
      P[i] -= hp.lr * hp.weightDecay * P[i];
      M[i] = hp.beta1 * M[i] + (1 - hp.beta1) * g[i];
      V[i] = hp.beta2 * V[i] + (1 - hp.beta2) * g[i] * g[i];
      const mh = M[i] / (1 - hp.beta1 ** step), vh = V[i] / (1 - hp.beta2 ** step);
      P[i] -= hp.lr * mh / (Math.sqrt(vh) + hp.eps);
    }
    assertClose(p, P, 1e-6, 1e-5, `param after step ${step}`);
    assertClose(m, M, 1e-7, 1e-5, `m after step ${step}`);
    assertClose(v, V, 1e-9, 1e-5, `v after step ${step}`);
  });
  // first step moves every param by ≈ lr·sign(g) (plus decay), the Adam signature
  const q = Float32Array.of(0, 0), z = new Float32Array(2), w = new Float32Array(2);
  tsBackend.adamw(q, Float32Array.of(3, -0.001), z, w, { ...hp, weightDecay: 0, step: 1 });
  assertClose(q, [-0.01, 0.01], 1e-7, 1e-4, "first step");
});

test("adamw kernel: one torch.optim.AdamW step on the bert-lora parameters (golden)", () => {
  const init = readSafetensors(golden("bert-lora/initial_trainable_params.safetensors"));
  const grads = readSafetensors(golden("bert-lora/grads.safetensors"));
  const after = readSafetensors(golden("bert-lora/after_one_adamw_step.safetensors"));
  assert.ok(init.size > 0);
  for (const be of [tsBackend, getBackend()]) {
    let exact = 0, total = 0;
    for (const [name, t0] of init) {
      const g = grads.get(name), t1 = after.get(name);
      assert.ok(g && t1, `golden files lack ${name}`);
      const p = Float32Array.from(t0.data), m = new Float32Array(p.length), v = new Float32Array(p.length);
      be.adamw(p, g.data, m, v, { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01, step: 1 });
      assertClose(p, t1.data, 1e-7, 1e-6, `${be.name} ${name}`);
      for (let i = 0; i < p.length; i++) if (p[i] === t1.data[i]) exact++;
      total += p.length;
    }
    // PyTorch's op-by-op f32 rounding is followed, so nearly every value is bit-identical
    assert.ok(exact / total > 0.95, `${be.name}: only ${exact}/${total} values bit-identical to torch`);
  }
});
