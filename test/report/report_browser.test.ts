// The demo's report and a compare page of two demo runs, opened in headless Chromium: no console
// errors, no network, every chart has points, the summary card shows model, method, trainable
// parameters (PEFT's line), baseline → final accuracy, the confusion matrix sums to the eval rows
// (and its diagonal gives the accuracy compute_metrics measured), x ticks are whole steps, legends
// sit outside the plot box, hover shows a step's values. Screenshots go to test-artifacts/.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Browser } from "playwright-core";
import { chromiumMissing, launchChromium } from "../../scripts/chromium.js";
import { ROOT } from "../cli/helpers.js";
import { tmp } from "../peft/helpers.js";
import { keepScreenshot, openPage, pageFacts, percentOf } from "./page_checks.js";

const MAIN = join(ROOT, "src", "cli", "main.ts");
const EVAL_ROWS = 40;

function cli(args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ["--import", "tsx", MAIN, ...args], { cwd: ROOT, encoding: "utf8", timeout: 300_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function ok(r: ReturnType<typeof cli>, what: string): void {
  assert.equal(r.code, 0, `${what} failed (exit ${r.code}):\n${r.stderr}\n${r.stdout.slice(-2000)}`);
}

const json = (p: string) => JSON.parse(readFileSync(p, "utf8"));
/**
 * The points a run logged for `key` (log_history.jsonl: it has the demo's final evaluation too),
 * an evaluation repeating the previous one at the same step counted once.
 */
function logged(dir: string, key: string): [unknown, unknown][] {
  const entries = readFileSync(join(dir, "log_history.jsonl"), "utf8").split("\n").filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
  const pts = entries.filter((e) => typeof e[key] === "number").map((e): [unknown, unknown] => [e.step, e[key]]);
  return pts.filter((p, i) => i === 0 || p[0] !== pts[i - 1][0] || p[1] !== pts[i - 1][1]);
}

let work: string, runA: string, runB: string, stdoutA: string;
let browser: Browser;

function demo(out: string, lr: string): string {
  const r = cli(["demo", "--output_dir", out, "--max_train_samples", "64", "--max_eval_samples", String(EVAL_ROWS), "--per_device_train_batch_size", "8",
    "--num_train_epochs", "2", "--learning_rate", lr, "--skip_lm"]);
  ok(r, `demo ${out}`);
  return r.stdout;
}

before(async () => {
  const missing = chromiumMissing();
  assert.ok(!missing, `${missing}; these tests are NOT RUN`);
  work = tmp("report-browser-");
  runA = join(work, "lr-3e-3");
  runB = join(work, "lr-1e-2");
  stdoutA = demo(runA, "3e-3");
  demo(runB, "1e-2");
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
});

test("the demo's report: summary card, curves with points, confusion matrix, integer step ticks, hover", async () => {
  const m = json(join(runA, "metrics.json"));
  const { page, errors, requests } = await openPage(browser, join(runA, "report.html"));
  try {
    const f = await pageFacts(page);
    assert.deepEqual(errors, []);
    assert.deepEqual(requests, []);
    // every chart drew points; the step curves exactly one per logged value
    for (const [id, n] of Object.entries(f.charts)) assert.ok(n > 0, `chart ${id} has points`);
    const expect: Record<string, number> = {
      "plot-loss/train loss": logged(runA, "loss").length, "plot-loss/eval loss": logged(runA, "eval_loss").length,
      "plot-learning_rate/learning_rate": logged(runA, "learning_rate").length, "plot-grad_norm/grad_norm": logged(runA, "grad_norm").length,
      "plot-eval_accuracy/eval_accuracy": logged(runA, "eval_accuracy").length,
    };
    for (const [k, n] of Object.entries(expect)) {
      assert.ok(n > 0, `${k}: the run logged values`);
      assert.equal(f.series[k], n, `points drawn for ${k}`);
    }
    assert.ok(f.charts["plot-reliability"] > 0, "reliability diagram drawn");
    // x ticks: whole steps
    assert.ok(f.xticks.length > 0);
    for (const t of f.xticks) assert.match(t, /^\d{1,3}(,\d{3})*$/, `x tick "${t}" is a whole step`);
    assert.deepEqual(f.legendOverlaps, [], "legends sit outside the plot boxes");
    // summary: model, method, trainable parameters as PEFT prints them, baseline → after
    const s = f.summary;
    assert.match(s.model, /llama-mini-en/);
    assert.match(s.method, /LORA.*r=8.*alpha=16/);
    const peftLine = /trainable params: [\d,]+ \|\| all params: [\d,]+ \|\| trainable%: [\d.]+/.exec(stdoutA)![0];
    assert.ok(s.trainable.includes(peftLine), `summary shows PEFT's line ${peftLine}: ${s.trainable}`);
    const [before, afterText] = /([\d.]+%) → ([\d.]+%)/.exec(s.baseline)!.slice(1);
    assert.ok(Math.abs(percentOf(before) - m.baseline_eval_accuracy) < 5e-4, `baseline ${before} vs ${m.baseline_eval_accuracy}`);
    assert.ok(Math.abs(percentOf(afterText) - m.eval_accuracy) < 5e-4, `final ${afterText} vs ${m.eval_accuracy}`);
    assert.match(s.final, /final eval_accuracy/);
    assert.match(s.rows, new RegExp(`64 train · ${EVAL_ROWS} eval`));
    assert.match(s.hardware, /backend/);
    // the confusion matrix: every eval row once; its diagonal is the accuracy compute_metrics reported
    const total = f.cells.reduce((a, c) => a + c.count, 0);
    assert.equal(total, EVAL_ROWS);
    const diag = f.cells.filter((c) => c.t === c.p).reduce((a, c) => a + c.count, 0);
    assert.ok(Math.abs(diag / total - m.eval_accuracy) < 1e-9);
    // arguments: the changed ones first, the full table folded
    const changed = await page.$$eval("table.args-changed tbody tr td:first-child", (tds) => tds.map((t) => t.textContent));
    assert.ok(changed.includes("learning_rate") && !changed.includes("adam_beta1"), `changed args: ${changed}`);
    assert.equal(await page.$eval("table.args-all", (t) => (t.closest("details") as HTMLDetailsElement).open), false);
    // hover: the tooltip names the step under the pointer and the value there
    const pt = page.locator("#plot-loss svg.lin g.series[data-series='train loss'] circle.pt").first();
    const step = await pt.getAttribute("data-step");
    await pt.hover();
    const tip = await page.locator("#plot-loss .tip").textContent();
    assert.ok(tip!.startsWith(`step ${step}`) && tip!.includes("train loss: "), `tooltip: ${tip}`);
    // the log-scale switch shows the log chart, with its points
    await page.locator("#plot-loss input.logy").check();
    const logPts = await page.evaluate(`Array.from(document.querySelectorAll("#plot-loss svg.log circle.pt")).filter((c) => c.getBBox().width > 0).length`);
    assert.equal(logPts, expect["plot-loss/train loss"] + expect["plot-loss/eval loss"]);
    assert.deepEqual(errors, []);
    await page.locator("#plot-loss input.logy").uncheck();
    await keepScreenshot(page, "report.png");
  } finally {
    await page.close();
  }
});

test("peft-ts report A B: one compare page with overlaid curves and summaries side by side", async () => {
  const out = join(work, "compare.html");
  const r = cli(["report", runA, runB, "--output", out]);
  ok(r, "report A B");
  assert.match(r.stdout, /compare report of 2 runs/);
  const { page, errors, requests } = await openPage(browser, out);
  try {
    const f = await pageFacts(page);
    assert.deepEqual(errors, []);
    assert.deepEqual(requests, []);
    for (const [id, n] of Object.entries(f.charts)) assert.ok(n > 0, `chart ${id} has points`);
    for (const run of [runA, runB]) {
      const name = run.split("/").pop()!;
      assert.equal(f.series[`plot-loss/${name} train`], logged(run, "loss").length);
      assert.equal(f.series[`plot-eval_accuracy/${name}`], logged(run, "eval_accuracy").length);
    }
    for (const t of f.xticks) assert.match(t, /^\d{1,3}(,\d{3})*$/);
    assert.deepEqual(f.legendOverlaps, []);
    const rows = await page.evaluate(`Array.from(document.querySelectorAll("table.compare-metrics tbody tr")).map((tr) => Array.from(tr.querySelectorAll("td")).map((td) => td.textContent))`) as string[][];
    const row = rows.find((c) => c[0] === "eval_accuracy");
    assert.ok(row, "final metrics list eval_accuracy");
    [runA, runB].forEach((run, i) => assert.ok(Math.abs(percentOf(row![i + 1]!) - json(join(run, "metrics.json")).eval_accuracy) < 5e-4));
    const args = await page.$$eval("table.compare-args tbody tr td:first-child", (tds) => tds.map((t) => t.textContent));
    assert.deepEqual(args, ["learning_rate"], "the arguments that differ");
    await keepScreenshot(page, "compare.png");
  } finally {
    await page.close();
  }
});

test("peft-ts report DIR re-renders a run, with a hand-written adapter_delta.json as 'What the adapter changed'", async () => {
  const mods = [0, 1].flatMap((layer) => ["q_proj", "v_proj"].map((module, k) => ({
    name: `model.layers.${layer}.self_attn.${module}`, layer, module, delta_norm: 0.1 * (layer + 1 + k), weight_norm: 2, relative_norm: 0.05 * (layer + 1 + k), effective_rank: 3 + layer + k, singular_values: [0.3, 0.1, 0.01],
  })));
  writeFileSync(join(runA, "adapter_delta.json"), JSON.stringify({ modules: mods }));
  ok(cli(["report", runA]), "report A");
  const { page, errors } = await openPage(browser, join(runA, "report.html"));
  try {
    const f = await pageFacts(page);
    assert.deepEqual(errors, []);
    assert.equal(f.charts["plot-delta-relative-norm"], mods.length);
    assert.equal(f.charts["plot-delta-effective-rank"], mods.length);
    const top = await page.$eval("table.delta-top tbody tr td", (td) => td.textContent);
    assert.equal(top, "model.layers.1.self_attn.v_proj", "the largest relative change first");
  } finally {
    await page.close();
  }
});

test("peft-ts report refuses a missing folder and one without run files, naming them", () => {
  const missing = join(work, "nope");
  const r1 = cli(["report", missing]);
  assert.notEqual(r1.code, 0);
  assert.equal(r1.stderr.trim(), `peft-ts: error: report: ${missing} does not exist (expected a run's output_dir)`);
  const empty = join(work, "empty");
  mkdirSync(empty);
  const r2 = cli(["report", empty]);
  assert.notEqual(r2.code, 0);
  assert.match(r2.stderr.trim(), /^peft-ts: error: report: .*empty: no trainer_state.json, metrics.json or log_history.jsonl; expected the output_dir of a training run$/);
  writeFileSync(join(empty, "metrics.json"), "{ not json");
  const r3 = cli(["report", empty]);
  assert.match(r3.stderr.trim(), /^peft-ts: error: report: .*metrics.json: JSON is not valid JSON/);
});
