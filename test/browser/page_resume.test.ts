// Cancel and resume after a reload, in headless Chromium: a run cancelled at step k keeps its
// checkpoint in the origin-private file system; the reloaded page offers Resume (step k/N), which
// continues at step k+1 and ends with the same adapter as an uninterrupted run (the probe logits
// agree within 1e-6: the Trainer's resume is exact).
import { after, test } from "node:test";
import assert from "node:assert/strict";
import type { Browser } from "playwright-core";
import { ensureWebBuilt } from "../../scripts/web.js";
import { startWebServer, type WebServer } from "../../scripts/web_server.js";
import { launchChromium, pageResult, waitForStatus, watchedPage } from "./page_helpers.js";

const STEPS = 16;
const QUERY = `?autorun=1&steps=${STEPS}&batch=8&eval=16`;

let server: WebServer | null = null;
let browser: Browser | null = null;
after(async () => {
  await browser?.close().catch(() => {});
  await server?.close();
});

test("a cancelled run resumes after a reload and ends where an uninterrupted run ends", { timeout: 300_000 }, async () => {
  ensureWebBuilt();
  server = await startWebServer({ port: 0 });
  browser = await launchChromium();

  // the reference: the same job, not interrupted (its own context: its own storage)
  const ref = await watchedPage(await browser.newContext(), server.url);
  await ref.page.goto(server.url + QUERY);
  const whole = await waitForStatus(ref.page, ["done"], 180_000);
  assert.deepEqual([...whole.errors, ...ref.errors], []);
  assert.equal(whole.losses.length, STEPS);

  const ctx = await browser.newContext();
  const w = await watchedPage(ctx, server.url);
  await w.page.goto(server.url + QUERY);
  await w.page.waitForFunction(() => (window as unknown as { __peftResult: { losses: unknown[] } }).__peftResult.losses.length >= 2, null, { timeout: 120_000, polling: 50 });
  await w.page.getByTestId("cancel").click();
  const cancelled = await waitForStatus(w.page, ["cancelled", "done"], 60_000);
  assert.equal(cancelled.status, "cancelled", "the run stopped before its last step");
  const k = cancelled.losses[cancelled.losses.length - 1][0];
  assert.ok(k >= 2 && k < STEPS, `cancelled at step ${k}`);

  // a reload without autorun: the kept checkpoint is offered
  await w.page.goto(server.url);
  await waitForStatus(w.page, ["ready"], 60_000);
  const resume = w.page.getByTestId("resume");
  await resume.waitFor({ state: "visible", timeout: 10_000 });
  assert.match((await resume.textContent()) ?? "", new RegExp(`step ${k}/${STEPS}`));
  await resume.click();
  const resumed = await waitForStatus(w.page, ["done"], 180_000);
  assert.deepEqual([...resumed.errors, ...w.errors], []);
  assert.deepEqual([...ref.offOrigin, ...w.offOrigin], []);
  assert.equal(resumed.losses[0][0], k + 1, "training continues at the step after the checkpoint");
  assert.equal(resumed.summary!.steps, STEPS);
  assert.equal(resumed.accuracyBefore, whole.accuracyBefore, "the accuracy before training is kept with the run");
  for (const [i, row] of whole.probes!.logits.entries()) {
    const diff = Math.max(...row.map((v, j) => Math.abs(v - resumed.probes!.logits[i][j])));
    assert.ok(diff <= 1e-6, `probe ${i}: uninterrupted ${row} vs resumed ${resumed.probes!.logits[i]}`);
  }
  // after a finished run nothing is left to resume
  await w.page.reload();
  await waitForStatus(w.page, ["ready"], 60_000);
  assert.equal(await w.page.getByTestId("resume").isHidden(), true);
  assert.equal((await pageResult(w.page)).errors.length, 0);
});
