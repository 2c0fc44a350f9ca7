// report.html opened in headless Chromium: no console errors, no network, and every plot drew
// its data points (train/eval loss, learning rate, grad norm, eval metrics).
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { chromiumMissing, launchChromium } from "../../scripts/chromium.js";
import { Trainer, TrainingArguments } from "../../src/train/index.js";
import { TinyRegressor, regressionData, regressionCollator } from "./helpers.js";
import { tmp } from "../peft/helpers.js";

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
    const page = await browser.newPage();
    const errors: string[] = [];
    const requests: string[] = [];
    page.on("console", (m) => { if (m.type() === "error") errors.push(m.text()); });
    page.on("pageerror", (e) => errors.push(String(e)));
    page.on("request", (r) => { if (!r.url().startsWith("file:")) requests.push(r.url()); });
    await page.goto(pathToFileURL(join(out, "report.html")).href);
    const drawn: Record<string, number> = await page.evaluate(() => {
      const res: Record<string, number> = {};
      for (const fig of Array.from(document.querySelectorAll("figure.plot"))) {
        const id = fig.id.replace(/^plot-/, "");
        for (const g of Array.from(fig.querySelectorAll("g.series"))) {
          // count circles with finite, in-box coordinates
          const pts = Array.from(g.querySelectorAll("circle.pt")).filter((c) => {
            const b = (c as SVGCircleElement).getBBox();
            return Number.isFinite(b.x) && Number.isFinite(b.y) && b.width > 0;
          });
          res[`${id}/${g.getAttribute("data-series")}`] = pts.length;
        }
      }
      return res;
    });
    assert.deepEqual(errors, []);
    assert.deepEqual(requests, []);
    for (const [k, n] of Object.entries(expected)) assert.equal(drawn[k], n, `points drawn for ${k}`);
    const title = await page.title();
    assert.equal(title, "report <test>");
    const text = await page.textContent("body");
    assert.ok(text!.includes("train_loss") && text!.includes("per_device_train_batch_size"));
  } finally {
    await browser.close();
  }
});
