// Reports from run dirs the report layer did not write: a trainer_state.json written by HF's
// Trainer (shared golden bert-lora-trainer) with its adapter_config.json, and Python's bare NaN.
import { test } from "node:test";
import assert from "node:assert/strict";
import { copyFileSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ROOT } from "../cli/helpers.js";
import { tmp } from "../peft/helpers.js";
import { loadRun, renderRunReport, runSummary, epochSteps } from "../../src/report/index.js";
import { FormatError } from "../../src/tensor/errors.js";

const GOLDEN = join(ROOT, "..", "shared", "golden", "bert-lora-trainer");

test("an HF Trainer's trainer_state.json alone renders: curves, epoch markers, steps/epochs, the adapter's method", () => {
  const dir = tmp("report-hf-");
  copyFileSync(join(GOLDEN, "trainer_state.json"), join(dir, "trainer_state.json"));
  copyFileSync(join(GOLDEN, "adapter_after_training", "adapter_config.json"), join(dir, "adapter_config.json"));
  const hf = JSON.parse(readFileSync(join(dir, "trainer_state.json"), "utf8"));
  const run = loadRun(dir);
  assert.equal(run.logHistory.length, hf.log_history.length);
  // HF logs epoch = step / steps-per-epoch: 6 steps over 2 epochs end epochs at steps 3 and 6
  assert.deepEqual(epochSteps(run.logHistory), [{ epoch: 1, step: 3 }, { epoch: 2, step: 6 }]);
  const s = Object.fromEntries(runSummary(run).map((i) => [i.key, i]));
  assert.equal(s.steps.text, `${hf.global_step} steps`);
  assert.equal(s.steps.detail, "2 epochs");
  assert.equal(s.method.text, "LORA");
  const html = renderRunReport(run, { defaultArgs: null });
  const losses = hf.log_history.filter((e: Record<string, unknown>) => typeof e.loss === "number").length;
  const lossFig = html.slice(html.indexOf('id="plot-loss"'), html.indexOf("</figure>", html.indexOf('id="plot-loss"')));
  const lin = lossFig.slice(0, lossFig.indexOf('class="chart log"') > 0 ? lossFig.indexOf('class="chart log"') : undefined);
  assert.equal((lin.match(/<circle class="pt"/g) ?? []).length, losses);
  assert.equal((lin.match(/<g class="epoch">/g) ?? []).length, 2);
});

test("Python's NaN in a run file reads as null; a broken file is a FormatError naming it", () => {
  const dir = tmp("report-nan-");
  writeFileSync(join(dir, "metrics.json"), '{"eval_loss": NaN, "eval_accuracy": 0.5, "train_loss": Infinity}');
  const run = loadRun(dir);
  assert.equal(run.metrics.eval_loss, null);
  assert.equal(run.metrics.eval_accuracy, 0.5);
  assert.ok(renderRunReport(run).includes("50.0%"));
  writeFileSync(join(dir, "log_history.jsonl"), '{"loss": 1, "step": 1}\n[1, 2]\n');
  assert.throws(() => loadRun(dir), (e: unknown) => e instanceof FormatError && /log_history.jsonl line 2: expected a JSON object \(one log entry\)/.test((e as Error).message));
});
