// scripts/translator_adapt.ts (LoRA domain adaptation of the bundled translator) on a tiny subset: it
// trains a few steps on 4 strings of a held-out package, the loss goes down on them, and the adapter it
// writes loads with PeftModel.fromPretrained and changes the translator's output.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { noGrad } from "../../src/tensor/autograd.js";
import { AutoModelForSeq2SeqLM, AutoTokenizer, PeftModel } from "../../src/index.js";
import { ROOT } from "../cli/helpers.js";
import { tmp } from "../peft/helpers.js";

test("translator_adapt.ts: a few LoRA steps on 4 strings of a test package lower their loss; the adapter loads", async () => {
  const dir = tmp("translator-adapt-");
  const r = spawnSync(process.execPath, [
    "--import", "tsx", join(ROOT, "scripts", "translator_adapt.ts"), "--work_dir", dir, "--package", "adduser", "--eval_rows", "100",
    "--max_train_rows", "4", "--batch", "4", "--max_steps", "6", "--logging_steps", "1", "--lr", "5e-3", "--no_eval",
  ], { cwd: ROOT, encoding: "utf8", timeout: 300_000 });
  assert.equal(r.status, 0, r.stderr.slice(-3000));
  const summary = JSON.parse(readFileSync(join(dir, "summary.json"), "utf8"));
  assert.equal(summary.package, "adduser");
  assert.equal(summary.train_rows, 4);
  const train = readFileSync(join(dir, "train.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l).translation);
  const test = readFileSync(join(ROOT, "data", "translation", "en-de", "test.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l));
  for (const p of train) assert.ok(test.some((t) => t.package === "adduser" && t.translation.en === p.en), `training row from the package: ${p.en}`);
  const losses: number[] = summary.losses;
  assert.equal(losses.length, 6, "one logged loss per step");
  assert.ok(losses[5] < losses[0] - 0.1, `the loss goes down on the subset: ${losses.map((x) => x.toFixed(3)).join(" ")}`);

  const model = join(ROOT, "models", "marian-mini-en-de");
  const base = await AutoModelForSeq2SeqLM.fromPretrained(model, { log: () => {} });
  const pm = await PeftModel.fromPretrained(await AutoModelForSeq2SeqLM.fromPretrained(model, { log: () => {} }), join(dir, "adapter"));
  assert.equal(pm.activeConfig.taskType, "SEQ_2_SEQ_LM");
  const tok = await AutoTokenizer.fromPretrained(model);
  const x = { inputIds: [tok.encode(train[0].en)], decoderInputIds: [[2, ...tok.encode(train[0].de).slice(0, 5)]] };
  const a = noGrad(() => base.eval().forward(x)).logits.f32(), b = noGrad(() => pm.forward(x)).logits!.f32();
  assert.ok(a.some((v, i) => Math.abs(v - b[i]) > 1e-3), "the trained adapter changes the logits");
});
