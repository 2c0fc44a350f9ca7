// The acceptance test of the page that fine-tunes in the tab (issue #17): `npm run web`'s server on
// an ephemeral port, Debian chromium headless through playwright-core, ?autorun=1&steps=N trains
// llama-mini-en LoRA on bundled SST-2 rows in the Web Worker (wasm backend). Checks: no console
// errors and no request off the origin, the loss goes down, accuracy before/after shown in percent,
// status `done`; the downloaded adapter (two files) loads in Node peft-ts and gives the page's
// logits on the same texts within 1e-4. A screenshot goes to test-artifacts/ (path printed).
import { after, test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import type { Browser } from "playwright-core";
import { ensureWebBuilt } from "../../scripts/web.js";
import { startWebServer, type WebServer } from "../../scripts/web_server.js";
import { AutoModelForSequenceClassification, AutoTokenizer, PeftModel, noGrad, setBackend } from "../../src/index.js";
import { tmp } from "../peft/helpers.js";
import { launchChromium, waitForStatus, watchedPage } from "./page_helpers.js";

const ROOT = resolve(import.meta.dirname, "..", "..");
const ARTIFACTS = join(ROOT, "test-artifacts");
const MODEL = join(ROOT, "models", "llama-mini-en");
/** Steps × batch rows of SST-2 at the demo recipe's shapes (batch 32, max_length 64): ~15 s of training on wasm. */
const STEPS = 30;
const BATCH = 32;
const EVAL_ROWS = 128;

let server: WebServer | null = null;
let browser: Browser | null = null;
after(async () => {
  await browser?.close().catch(() => {});
  await server?.close();
});

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

test("the page trains llama-mini-en LoRA in headless Chromium; its adapter gives the same logits in Node", { timeout: 300_000 }, async () => {
  ensureWebBuilt();
  server = await startWebServer({ port: 0 });
  browser = await launchChromium();
  const context = await browser.newContext({ acceptDownloads: true, viewport: { width: 1180, height: 860 } });
  const { page, errors, offOrigin } = await watchedPage(context, server.url);

  const t0 = Date.now();
  await page.goto(`${server.url}?autorun=1&steps=${STEPS}&batch=${BATCH}&eval=${EVAL_ROWS}`, { timeout: 30_000 });
  assert.equal(await page.evaluate(() => globalThis.crossOriginIsolated), true, "the page is cross-origin isolated (COOP/COEP)");
  const r = await waitForStatus(page, ["done"], 240_000);
  const wall = (Date.now() - t0) / 1000;

  assert.deepEqual(r.errors, [], "the worker reported no error");
  assert.deepEqual(errors, [], "no console errors");
  assert.deepEqual(offOrigin, [], "no request leaves the page's origin");
  assert.equal(await page.getByTestId("status").textContent(), "done");
  assert.equal(r.backend, "wasm");
  assert.equal(r.losses.length, STEPS, "one loss per step");
  const losses = r.losses.map((p) => p[1]);
  // per-batch losses are noisy: compare the first and the last third of the steps
  const third = Math.floor(STEPS / 3);
  const first = mean(losses.slice(0, third)), last = mean(losses.slice(-third));
  assert.ok(last < first, `the loss goes down: mean of the first ${third} steps ${first.toFixed(4)}, of the last ${third} ${last.toFixed(4)}`);
  for (const id of ["accuracy-before", "accuracy-after"]) {
    assert.match((await page.getByTestId(id).textContent()) ?? "", /^\d{1,3}(\.\d)?%$/, `${id} shows a percentage`);
  }
  assert.ok(r.accuracyAfter !== null && r.accuracyAfter >= 0 && r.accuracyAfter <= 1);
  const points = await page.getByTestId("loss-chart").locator("polyline[data-series=loss]").getAttribute("points");
  assert.equal(points?.trim().split(/\s+/).length, STEPS, "the loss chart draws every step");

  // the typed text is classified after training: label probabilities in percent
  await page.waitForFunction(() => document.querySelector("[data-testid=try-result]")?.textContent?.includes("%"), null, { timeout: 20_000 });
  mkdirSync(ARTIFACTS, { recursive: true });
  const shot = join(ARTIFACTS, "page-done.png");
  await page.screenshot({ path: shot, fullPage: true });
  console.log(`screenshot: ${shot}`);
  console.log(`page: ${STEPS} steps × batch ${BATCH} on ${r.summary!.backend}: ${r.summary!.tokensPerSecond.toFixed(0)} tokens/s, ` +
    `${r.summary!.stepsPerSecond.toFixed(2)} steps/s; accuracy ${(100 * r.accuracyBefore!).toFixed(1)}% → ${(100 * r.accuracyAfter!).toFixed(1)}% ` +
    `on ${EVAL_ROWS} dev rows; whole page run ${wall.toFixed(1)} s (machine loaded by other work)`);

  // the adapter as the user downloads it: two files
  const dir = tmp("page-adapter-");
  const names: string[] = [];
  const downloads = new Promise<void>((done, fail) => {
    const timer = setTimeout(() => fail(new Error(`only ${names.length} of 2 downloads arrived`)), 20_000);
    page.on("download", async (d) => {
      const name = d.suggestedFilename();
      await d.saveAs(join(dir, name));
      names.push(name);
      if (names.length === 2) { clearTimeout(timer); done(); }
    });
  });
  await page.getByTestId("download").click();
  await downloads;
  assert.deepEqual(names.sort(), ["adapter_config.json", "adapter_model.safetensors"]);
  const cfg = JSON.parse(readFileSync(join(dir, "adapter_config.json"), "utf8"));
  assert.equal(cfg.peft_type, "LORA");
  assert.equal(cfg.task_type, "SEQ_CLS");

  // Node peft-ts, the same (wasm) kernels: the page's logits within 1e-4
  setBackend("wasm");
  const tokenizer = await AutoTokenizer.fromPretrained(MODEL);
  const base = await AutoModelForSequenceClassification.fromPretrained(MODEL, { numLabels: 2, log: () => {} });
  const peft = await PeftModel.fromPretrained(base, dir);
  peft.eval();
  const probes = r.probes!;
  assert.ok(probes.texts.length >= 2);
  noGrad(() => probes.texts.forEach((text, i) => {
    const enc = tokenizer.call([text]);
    const got = Array.from(peft.forward({ inputIds: enc.inputIds, attentionMask: enc.attentionMask }).logits!.f32());
    const want = probes.logits[i];
    assert.equal(got.length, want.length);
    const diff = Math.max(...got.map((v, j) => Math.abs(v - want[j])));
    assert.ok(diff <= 1e-4, `logits of "${text}": Node ${got.map((v) => v.toFixed(6))} vs page ${want.map((v) => v.toFixed(6))} (max diff ${diff})`);
  }));
});
