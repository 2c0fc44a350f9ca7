// report.html of a Trainer run (no CLI) opened in headless Chromium: no console errors, no network,
// every plot drew its data points (train/eval loss, learning rate, grad norm, eval metrics), the
// regression scatter of eval_predictions.json, run_info.json's facts.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { chromiumMissing, launchChromium } from "../../scripts/chromium.js";
import { Trainer, TrainingArguments } from "../../src/train/index.js";
import { TinyRegressor, regressionData, regressionCollator } from "./helpers.js";
import { tmp } from "../peft/helpers.js";
import { openPage, pageFacts } from "../report/page_checks.js";

test("report.html renders every curve in headless Chromium without console errors", async () => {
  const missing = chromiumMissing();
  assert.ok(!missing, `${missing}; this test is NOT RUN`);
  const out = tmp("report-");
  const args = TrainingArguments.fromDict({
    output_dir: out, per_device_train_batch_size: 4, num_train_epochs: 3, learning_rate: 0.02, warmup_ratio: 0.2,
    logging_steps: 2, eval_strategy: "steps", eval_steps: 3, save_strategy: "no", disable_tqdm: true, report_to: ["none"], run_name: "report <test>",
  });
  const t = new Trainer({
    model: new TinyRegressor(), args, trainDataset: regressionData(16), evalDataset: regressionData(8, 3), dataCollator: regressionCollator,
    computeMetrics: ({ predictions, labelIds }) => {
      const p = (predictions as number[][]).map((r) => r[0]);
      const y = labelIds as number[];
      return { mae: p.reduce((s, v, i) => s + Math.abs(v - y[i]), 0) / p.length };
    },
  });
  await t.train();
  const html = readFileSync(join(out, "report.html"), "utf8");
  assert.ok(!/https?:\/\//.test(html.replace(/http:\/\/www\.w3\.org\/2000\/svg/g, "")), "report must not reference the network");
  const hist = t.state.logHistory;
  const count = (k: string) => hist.filter((e) => typeof e[k] === "number").length;
  const expected: Record<string, number> = {
    "loss/train loss": count("loss"), "loss/eval loss": count("eval_loss"), "learning_rate/learning_rate": count("learning_rate"),
    "grad_norm/grad_norm": count("grad_norm"), "eval_mae/eval_mae": count("eval_mae"),
  };
  for (const [k, n] of Object.entries(expected)) assert.ok(n > 0, `${k} has data in log_history`);

  const browser = await launchChromium();
  try {
    const { page, errors, requests } = await openPage(browser, join(out, "report.html"));
    const f = await pageFacts(page);
    assert.deepEqual(errors, []);
    assert.deepEqual(requests, []);
    for (const [k, n] of Object.entries(expected)) assert.equal(f.series[`plot-${k}`], n, `points drawn for ${k}`);
    // regression: eval_predictions.json holds the 8 eval rows' labels and predictions; the scatter draws them
    const preds = JSON.parse(readFileSync(join(out, "eval_predictions.json"), "utf8"));
    assert.equal(preds.kind, "regression");
    assert.deepEqual(preds.labels, regressionData(8, 3).map((r) => r.labels));
    assert.equal(f.charts["plot-regression"], 8);
    // the clipping threshold (max_grad_norm 1) is drawn on the grad-norm chart
    assert.equal(await page.locator("#plot-grad_norm svg.lin g.hline text").textContent(), "max_grad_norm 1");
    assert.equal(await page.title(), "report <test>");
    const text = await page.textContent("body");
    assert.ok(text!.includes("train_loss") && text!.includes("per_device_train_batch_size"));
    const info = JSON.parse(readFileSync(join(out, "run_info.json"), "utf8"));
    assert.equal(info.train_rows, 16);
    assert.equal(info.eval_rows, 8);
    assert.equal(info.trainable_params, t.model.parameters().reduce((s, p) => s + p.size, 0));
  } finally {
    await browser.close();
  }
});
