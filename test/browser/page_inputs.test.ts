// The page's other inputs, clicked as a person would: a model folder picked from disk (the
// llama-mini-en files through the file input) with pasted JSONL of string labels, then the bundled
// bert-mini-en with a CSV file; each trains a few steps and classifies the typed text by label name;
// on the TS kernels (?backend=ts).
import { after, test } from "node:test";
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import type { Browser } from "playwright-core";
import { ensureWebBuilt } from "../../scripts/web.js";
import { startWebServer, type WebServer } from "../../scripts/web_server.js";
import { tmp } from "../peft/helpers.js";
import { launchChromium, waitForStatus, watchedPage } from "./page_helpers.js";

const ROOT = resolve(import.meta.dirname, "..", "..");
const GOOD = ["a gorgeous , witty movie", "warm and funny", "a delight from start to finish", "smart , moving and beautifully acted"];
const BAD = ["dull and lifeless", "a tedious mess", "the worst film of the year", "flat , boring and far too long"];
const rows = Array.from({ length: 40 }, (_, i) => (i % 2 ? { text: BAD[i % 4], label: "neg" } : { text: GOOD[i % 4], label: "pos" }));

let server: WebServer | null = null;
let browser: Browser | null = null;
after(async () => {
  await browser?.close().catch(() => {});
  await server?.close();
});

test("a picked model folder with pasted JSONL, and bert-mini-en with a CSV file, train in the page (TS kernels)", { timeout: 240_000 }, async () => {
  ensureWebBuilt();
  server = await startWebServer({ port: 0 });
  browser = await launchChromium();
  const { page, errors, offOrigin } = await watchedPage(await browser.newContext(), server.url);
  // on the TS reference kernels this time (?backend=ts), the acceptance test runs wasm
  await page.goto(`${server.url}?backend=ts`);
  assert.equal((await waitForStatus(page, ["ready"], 60_000)).backend, "ts");
  const set = async (id: string, v: string) => page.getByTestId(id).fill(v);

  // 1. a local model folder + pasted JSONL with string labels
  const modelDir = join(ROOT, "models", "llama-mini-en");
  await page.getByTestId("model-files").setInputFiles(modelDir);
  assert.equal(await page.getByTestId("model").inputValue(), "local");
  await set("data-paste", rows.map((r) => JSON.stringify(r)).join("\n"));
  await set("batch", "8");
  await set("max-steps", "4");
  await page.getByTestId("train").click();
  let r = await waitForStatus(page, ["done"], 120_000);
  assert.deepEqual([...r.errors, ...errors], []);
  assert.equal(r.summary!.steps, 4);
  assert.equal(r.summary!.evalRows, 8, "20% of the 40 pasted rows held out");
  await page.waitForFunction(() => document.querySelector("[data-testid=try-result]")?.textContent?.includes("%"), null, { timeout: 20_000 });
  assert.match((await page.getByTestId("try-result").textContent()) ?? "", /^neg: \d+\.\d% {2}pos: \d+\.\d%$/);

  // 2. bundled bert-mini-en + a CSV file picked from disk
  const csv = join(tmp("page-data-"), "reviews.csv");
  writeFileSync(csv, "text,label\n" + rows.map((x) => `"${x.text}",${x.label === "pos" ? 1 : 0}`).join("\n") + "\n");
  await page.getByTestId("model").selectOption("bundled:bert-mini-en");
  await set("data-paste", "");
  await page.getByTestId("data-file").setInputFiles(csv);
  await page.getByTestId("data-info").filter({ hasText: "reviews.csv" }).waitFor({ timeout: 10_000 });
  await page.getByTestId("train").click();
  r = await waitForStatus(page, ["done"], 120_000);
  assert.deepEqual([...r.errors, ...errors], []);
  assert.equal(r.losses.length, 4);
  assert.match((await page.getByTestId("accuracy-after").textContent()) ?? "", /^\d{1,3}(\.\d)?%$/);
  assert.deepEqual(offOrigin, []);
});
