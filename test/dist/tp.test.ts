// Tensor parallelism with 2 ranks (mpirun -np 2 of fixtures under fixtures/, each bounded by a
// timeout). Skipped, with the reason, when mpirun or the MPI addon is missing.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { addonSkip, MPI_ENV_NO_CMA } from "../helpers/mpi.js";

const root = join(fileURLToPath(import.meta.url), "..", "..", "..");
const skip = addonSkip();
if (skip) console.log(`# tp.test.ts skipped: ${skip}`);

/** mpirun -np 2 of a fixture (extra args after it), killed after limitMs; its combined output. */
export function mpirun2(fixture: string, args: string[], limitMs: number): { status: number | null; out: string } {
  const r = spawnSync(
    "mpirun",
    ["-np", "2", "--oversubscribe", process.execPath, "--import", "tsx", join("test", "dist", "fixtures", `${fixture}.ts`), ...args],
    {
      cwd: root, encoding: "utf8", timeout: limitMs, killSignal: "SIGTERM", maxBuffer: 16 << 20,
      env: MPI_ENV_NO_CMA,
    },
  );
  return { status: r.status, out: `${r.stdout ?? ""}${r.stderr ?? ""}` };
}

test("region ops, vocab-parallel cross entropy and the parallel layers with 2 ranks match the single-process ops", { skip }, () => {
  const r = mpirun2("tp_ops", [], 120_000);
  assert.equal(r.status, 0, r.out);
  for (const name of ["region-ops", "vocab-parallel-ce", "parallel-layers"])
    for (const rank of [0, 1]) assert.ok(r.out.includes(`PASS ${name} rank ${rank}\n`), `${name} on rank ${rank}:\n${r.out}`);
});

// ---------------------------------------------------------------------------------------------
// tp=2 vs one process: one LoRA step on the golden tiny models

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { loadSafetensors } from "../../src/io/safetensors.js";
import { AutoModelForCausalLM, AutoModelForSequenceClassification } from "../../src/models/auto.js";
import { PeftModel } from "../../src/peft/index.js";
import { loraStep, GOLDEN_DIR, type Kind } from "./fixtures/tp_common.js";

function maxAbsDiff(a: Float32Array, b: Float32Array, what: string): number {
  assert.equal(a.length, b.length, `${what}: ${a.length} vs ${b.length} values`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

for (const kind of ["llama", "bert"] as Kind[]) {
  test(`${kind}: tp=2 (mpirun -np 2) equals one process: logits, loss, every LoRA gradient, and the adapter saved after one step`, { skip }, async () => {
    const dir = mkdtempSync(join(tmpdir(), `tp-${kind}-`));
    try {
      const r = mpirun2("tp_equiv", [kind, dir], 180_000);
      assert.equal(r.status, 0, r.out);
      const tp = loadSafetensors(join(dir, "result.safetensors"));
      const ref = await loraStep(kind, null, join(dir, "ref-adapter"));
      const diffs: Record<string, number> = {};
      diffs.logits = maxAbsDiff(tp.get("logits")!.f32(), ref.logits.f32(), "logits");
      diffs.loss = Math.abs(tp.get("loss")!.f32()[0] - ref.loss);
      let grad = 0;
      assert.equal([...tp.keys()].filter((k) => k.startsWith("grad.")).length, ref.grads.size, "same trainable tensors");
      for (const [n, g] of ref.grads) {
        const t = tp.get(`grad.${n}`);
        assert.ok(t, `no gradient for ${n} from the tp run`);
        assert.deepEqual(t.shape, g.shape, n);
        grad = Math.max(grad, maxAbsDiff(t.f32(), g.f32(), `grad ${n}`));
      }
      diffs.grads = grad;
      // the adapter files: same keys, shapes and (after one step) values
      const a = loadSafetensors(join(dir, "adapter", "adapter_model.safetensors"));
      const b = loadSafetensors(join(dir, "ref-adapter", "adapter_model.safetensors"));
      assert.deepEqual([...a.keys()].sort(), [...b.keys()].sort());
      let ad = 0;
      for (const [k, t] of b) {
        assert.deepEqual(a.get(k)!.shape, t.shape, k);
        ad = Math.max(ad, maxAbsDiff(a.get(k)!.f32(), t.f32(), k));
      }
      diffs.adapter = ad;
      // the tp-saved adapter loads into one process and gives the same logits as the trained reference adapter
      const base = kind === "llama"
        ? await AutoModelForCausalLM.fromPretrained(join(GOLDEN_DIR, "llama-tiny-random"))
        : await AutoModelForSequenceClassification.fromPretrained(join(GOLDEN_DIR, "bert-tiny-random"), { log: () => {} });
      const loaded = await PeftModel.fromPretrained(base, join(dir, "adapter"));
      const ids = kind === "llama" ? [[1, 7, 9, 200, 3]] : [[2, 9, 17, 3]];
      const base2 = kind === "llama"
        ? await AutoModelForCausalLM.fromPretrained(join(GOLDEN_DIR, "llama-tiny-random"))
        : await AutoModelForSequenceClassification.fromPretrained(join(GOLDEN_DIR, "bert-tiny-random"), { log: () => {} });
      const refLoaded = await PeftModel.fromPretrained(base2, join(dir, "ref-adapter"));
      const refLogits = refLoaded.forward({ inputIds: ids }).logits!.f32();
      // relative to the logits' scale: one SGD step at lr 0.1 changes their scale
      const scale = Math.max(1, ...Array.from(refLogits, Math.abs));
      diffs.reloaded = maxAbsDiff(loaded.forward({ inputIds: ids }).logits!.f32(), refLogits, "reloaded logits") / scale;
      console.log(`# ${kind} tp=2 vs 1 process, max abs diff (reloaded: relative to max |logit|): ${Object.entries(diffs).map(([k, v]) => `${k} ${v.toExponential(2)}`).join(", ")}`);
      for (const [k, v] of Object.entries(diffs)) assert.ok(v <= 1e-5, `${kind} ${k}: max abs diff ${v}`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
}

// ---------------------------------------------------------------------------------------------
// memory: a ~64M-parameter random Llama loaded with tp=2 holds about half the weights per rank

import { parseConfig } from "../../src/io/hf_config.js";
import { LlamaForCausalLM } from "../../src/models/llama.js";

test("peak RSS per rank for the frozen weights: tp=2 about half of one process (sharded construction and reads)", { skip }, async () => {
  const dir = mkdtempSync(join(tmpdir(), "tp-mem-"));
  try {
    const config = parseConfig({
      model_type: "llama", architectures: ["LlamaForCausalLM"], hidden_size: 768, intermediate_size: 2048, num_hidden_layers: 6,
      num_attention_heads: 12, num_key_value_heads: 6, vocab_size: 16384, max_position_embeddings: 128, rms_norm_eps: 1e-6, tie_word_embeddings: false,
    }, join(dir, "config.json"));
    await new LlamaForCausalLM(config).initWeights().savePretrained(dir);
    const parse = (out: string) => [...out.matchAll(/MEM rank (\d) of (\d): base ([\d.]+) peak ([\d.]+) params ([\d.]+)/g)]
      .map((m) => ({ rank: +m[1], base: +m[3], peak: +m[4], params: +m[5] }));
    const one = spawnSync(process.execPath, ["--import", "tsx", join("test", "dist", "fixtures", "tp_memory.ts"), dir], { cwd: root, encoding: "utf8", timeout: 180_000 });
    assert.equal(one.status, 0, `${one.stdout}${one.stderr}`);
    const two = mpirun2("tp_memory", [dir], 180_000);
    assert.equal(two.status, 0, two.out);
    const [s] = parse(one.stdout), ranks = parse(two.out);
    assert.equal(ranks.length, 2, two.out);
    const single = s.peak - s.base;
    for (const r of ranks) {
      const ratio = (r.peak - r.base) / single;
      console.log(`# rank ${r.rank} of 2: peak − base ${(r.peak - r.base).toFixed(1)} MiB (params ${r.params} MiB) vs one process ${single.toFixed(1)} MiB (params ${s.params} MiB): ratio ${ratio.toFixed(2)}`);
      assert.ok(r.params / s.params < 0.52, `rank ${r.rank} holds ${r.params} MiB of parameters, one process ${s.params} MiB`);
      assert.ok(ratio < 0.65, `rank ${r.rank}: peak RSS growth ${(r.peak - r.base).toFixed(1)} MiB is ${ratio.toFixed(2)} of one process's ${single.toFixed(1)} MiB`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
