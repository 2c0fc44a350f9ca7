// A llama2.c checkpoint loaded as an HF Llama must compute what llama2.c's run.c computes on the
// raw file (interleaved-pair RoPE, unpermuted weights). The reference below follows run.c's
// forward pass step by step in float64, independent of the model code.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AutoModelForCausalLM } from "../../src/models/auto.js";
import { noGrad } from "../../src/tensor/autograd.js";
import { assertClose, FIXTURES } from "./helpers.js";

const BIN = join(FIXTURES, "stories260K.bin");

/** run.c forward over `ids`; returns the logits of every position. */
function runC(path: string, ids: number[]): Float64Array[] {
  const buf = readFileSync(path);
  const [dim, hidden, L, nh, nkv, vocab] = Array.from(new Int32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + 28)));
  const V = Math.abs(vocab);
  const f = new Float32Array(buf.buffer.slice(buf.byteOffset + 28));
  let o = 0;
  const take = (n: number) => f.subarray(o, (o += n));
  const hs = dim / nh, kvd = nkv * hs;
  const tok = take(V * dim), rmsAtt = take(L * dim), wq = take(L * dim * dim), wk = take(L * kvd * dim), wv = take(L * kvd * dim);
  const wo = take(L * dim * dim), rmsFfn = take(L * dim), w1 = take(L * hidden * dim), w2 = take(L * dim * hidden), w3 = take(L * hidden * dim), rmsFinal = take(dim);
  const matvec = (W: Float32Array, off: number, x: Float64Array, n: number, d: number) => {
    const y = new Float64Array(d);
    for (let i = 0; i < d; i++) {
      let s = 0;
      for (let j = 0; j < n; j++) s += W[off + i * n + j] * x[j];
      y[i] = s;
    }
    return y;
  };
  const rmsnorm = (x: Float64Array, w: Float32Array, off: number) => {
    let s = 0;
    for (const v of x) s += v * v;
    const r = 1 / Math.sqrt(s / x.length + 1e-5);
    return x.map((v, i) => v * r * w[off + i]);
  };
  const keys: Float64Array[][] = Array.from({ length: L }, () => []);
  const vals: Float64Array[][] = Array.from({ length: L }, () => []);
  const out: Float64Array[] = [];
  ids.forEach((id, pos) => {
    let x = Float64Array.from(tok.subarray(id * dim, (id + 1) * dim));
    for (let l = 0; l < L; l++) {
      const xb = rmsnorm(x, rmsAtt, l * dim);
      const q = matvec(wq, l * dim * dim, xb, dim, dim), k = matvec(wk, l * kvd * dim, xb, dim, kvd), v = matvec(wv, l * kvd * dim, xb, dim, kvd);
      for (let i = 0; i < dim; i += 2) {
        const a = pos / Math.pow(10000, (i % hs) / hs), c = Math.cos(a), s = Math.sin(a);
        for (const [vec, n] of [[q, dim], [k, kvd]] as const) {
          if (i >= n) continue;
          const v0 = vec[i], v1 = vec[i + 1];
          vec[i] = v0 * c - v1 * s;
          vec[i + 1] = v0 * s + v1 * c;
        }
      }
      keys[l].push(k);
      vals[l].push(v);
      const att = new Float64Array(dim);
      for (let h = 0; h < nh; h++) {
        const kh = Math.floor(h / (nh / nkv));
        const sc = keys[l].map((kk) => {
          let s = 0;
          for (let d = 0; d < hs; d++) s += q[h * hs + d] * kk[kh * hs + d];
          return s / Math.sqrt(hs);
        });
        const mx = Math.max(...sc), e = sc.map((s) => Math.exp(s - mx)), z = e.reduce((a, b) => a + b);
        e.forEach((p, t) => {
          for (let d = 0; d < hs; d++) att[h * hs + d] += (p / z) * vals[l][t][kh * hs + d];
        });
      }
      const ao = matvec(wo, l * dim * dim, att, dim, dim);
      x = x.map((v, i) => v + ao[i]);
      const xb2 = rmsnorm(x, rmsFfn, l * dim);
      const h1 = matvec(w1, l * hidden * dim, xb2, dim, hidden), h3 = matvec(w3, l * hidden * dim, xb2, dim, hidden);
      const ff = matvec(w2, l * dim * hidden, h1.map((v, i) => (v / (1 + Math.exp(-v))) * h3[i]), hidden, dim);
      x = x.map((v, i) => v + ff[i]);
    }
    out.push(matvec(tok, 0, rmsnorm(x, rmsFinal, 0), dim, V));
  });
  return out;
}

test("stories260K (llama2.c) as LlamaForCausalLM computes run.c's logits; KV-cached generation and save/load agree", async () => {
  const model = AutoModelForCausalLM.fromLlama2c(BIN);
  assert.equal(model.config.tieWordEmbeddings, true);
  const ids = [1, 403, 407, 261, 378, 432, 383, 286, 261];
  const logits = noGrad(() => model.forward({ inputIds: [ids] }).logits!);
  const ref = runC(BIN, ids);
  assertClose(logits, ref.flatMap((r) => Array.from(r)), "logits vs run.c", { abs: 1e-4, rel: 1e-4 });
  assert.deepEqual(model.generate([ids], { maxNewTokens: 8 }), model.generate([ids], { maxNewTokens: 8, useCache: false }));
  const dir = mkdtempSync(join(tmpdir(), "l2c-"));
  await model.savePretrained(dir);
  const again = await AutoModelForCausalLM.fromPretrained(dir);
  const a = model.stateDict(), b = again.stateDict();
  assert.deepEqual([...b.keys()].sort(), [...a.keys()].sort());
  for (const [k, t] of a) assert.deepEqual(b.get(k)!.f32(), t.f32(), k);
});
