// `peft-ts train` with LoRA writes adapter_delta.json (the training report's contract) and
// `peft-ts inspect --adapter` prints the same ΔW statistics; both checked against the explicit
// ΔW = s·B·A of the saved adapter tensors.
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { loadSafetensors } from "../../src/io/safetensors.js";
import { BERT_TINY, captureStdout, cliInProcess, loraTrainArgv, writeSst2Split } from "../cli/helpers.js";
import { tmp } from "../peft/helpers.js";

test("train (LoRA) writes adapter_delta.json; inspect --adapter [-m] prints it; norms equal the explicit ΔW's", async () => {
  const dir = tmp("explain-train-");
  const { trainTsv } = writeSst2Split(dir, 16, 4);
  const out = join(dir, "run");
  const r = await cliInProcess(loraTrainArgv(BERT_TINY, trainTsv, out, ["--lora_alpha", "8"]).slice(1));
  assert.equal(r.code, 0, r.stderr);
  const doc = JSON.parse(readFileSync(join(out, "adapter_delta.json"), "utf8")) as { modules: Record<string, unknown>[] };
  assert.equal(doc.modules.length, 2 * 2, "query and value in both layers");
  const tensors = loadSafetensors(join(out, "adapter_model.safetensors"));
  const base = loadSafetensors(join(BERT_TINY, "model.safetensors"));
  for (const m of doc.modules) {
    assert.deepEqual(Object.keys(m), ["name", "layer", "module", "delta_norm", "weight_norm", "relative_norm", "effective_rank", "singular_values"]);
    const A = tensors.get(`base_model.model.${m.name}.lora_A.weight`)!, B = tensors.get(`base_model.model.${m.name}.lora_B.weight`)!;
    const [r, inF] = A.shape, outF = B.shape[0], a = A.f32(), b = B.f32(), s = 8 / 4;
    let sq = 0;
    for (let i = 0; i < outF; i++) for (let j = 0; j < inF; j++) {
      let acc = 0;
      for (let k = 0; k < r; k++) acc += b[i * r + k] * a[k * inF + j];
      sq += (s * acc) ** 2;
    }
    assert.ok(Math.abs((m.delta_norm as number) - Math.sqrt(sq)) <= 1e-6 * Math.sqrt(sq), `${m.name}: ${m.delta_norm} vs ${Math.sqrt(sq)}`);
    assert.ok(Math.sqrt(sq) > 0, "the adapter was trained");
    const W = base.get(`${String(m.name).replace(/^bert\./, "bert.")}.weight`)!;
    const wn = Math.sqrt(W.f32().reduce((acc, x) => acc + x * x, 0));
    assert.ok(Math.abs((m.weight_norm as number) - wn) <= 1e-6 * wn, `${m.name} ‖W‖`);
    assert.equal((m.singular_values as number[]).length, 4);
    assert.equal(typeof m.layer, "number");
  }
  const alone = await captureStdout(() => cliInProcess(["inspect", "--adapter", out]));
  assert.match(alone, /what the adapter changed/);
  const first = doc.modules[0];
  assert.ok(alone.includes(String(first.name)) && alone.includes((first.delta_norm as number).toExponential(3)), alone);
  const json = JSON.parse(await captureStdout(() => cliInProcess(["inspect", "-m", BERT_TINY, "--adapter", out, "--json"])));
  assert.deepEqual(json.adapter_delta.modules.map((m: { name: string }) => m.name), doc.modules.map((m) => m.name));
  assert.ok(Math.abs(json.adapter_delta.modules[0].relative_norm - (first.relative_norm as number)) < 1e-12);
  const missing = await cliInProcess(["inspect", "--adapter", join(dir, "nope")]);
  assert.match(missing.stderr, /--adapter: no adapter_config.json/);
  assert.ok(!existsSync(join(dir, "nope")));
});
