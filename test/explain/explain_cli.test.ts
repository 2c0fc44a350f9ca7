// `peft-ts explain`: the terminal scores and explain.html, opened in headless Chromium (no console
// errors, no network, every token highlighted, the heatmap and both predictions drawn); a
// screenshot goes to test-artifacts/explain.png. Bad flags give one-line errors.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { chromiumMissing, launchChromium } from "../../scripts/chromium.js";
import { BERT_TINY, ROOT, captureStdout, cliInProcess } from "../cli/helpers.js";
import { tmp } from "../peft/helpers.js";

const ADAPTER = join(ROOT, "..", "shared", "golden", "bert-lora", "adapter");
const ARTIFACTS = join(ROOT, "test-artifacts");

test("peft-ts explain: token scores on stdout (no ANSI off a TTY) and explain.html rendered in headless Chromium", async () => {
  const missing = chromiumMissing();
  assert.ok(!missing, `${missing}; this test is NOT RUN`);
  const out = tmp("explain-");
  const html = join(out, "page", "explain.html");
  let code = -1;
  const stdout = await captureStdout(async () => {
    code = (await cliInProcess(["explain", "-m", BERT_TINY, "--adapter", ADAPTER, "--text", "the quick brown fox <b>jumps</b>", "--n_steps", "20", "--layer", "1", "--head", "1", "--output", html])).code;
  });
  assert.equal(code, 0, stdout);
  assert.match(stdout, /ig attributions for label LABEL_\d \(convergence delta/);
  assert.ok(!stdout.includes("\x1b["), "no colour codes when stdout is not a TTY");
  const page = readFileSync(html, "utf8");
  assert.ok(!/<script/i.test(page), "no script in the page");
  assert.ok(!/https?:\/\//.test(page.replace(/http:\/\/www\.w3\.org\/2000\/svg/g, "")), "no network references");
  assert.ok(!page.includes("<b>jumps</b>"), "the text is escaped");
  const tokenLines = stdout.split("\n").filter((l) => /^\S+\s+-?\d+\.\d{4}$/.test(l.trim()) || /^\S+\s+ -?\d/.test(l));

  const browser = await launchChromium();
  try {
    const p = await browser.newPage({ viewport: { width: 1100, height: 900 } });
    const errors: string[] = [], requests: string[] = [];
    p.on("console", (m) => { if (m.type() === "error") errors.push(m.text()); });
    p.on("pageerror", (e) => errors.push(String(e)));
    p.on("request", (r) => { if (!r.url().startsWith("file:")) requests.push(r.url()); });
    await p.goto(pathToFileURL(html).href);
    const seen = await p.evaluate(() => {
      const toks = Array.from(document.querySelectorAll("[data-testid=tokens] .tok"));
      return {
        tokens: toks.map((t) => ({ text: t.textContent, attr: t.getAttribute("data-attribution"), bg: getComputedStyle(t).backgroundColor, w: (t as HTMLElement).getBoundingClientRect().width })),
        cells: document.querySelectorAll("[data-testid=attention] rect.cell").length,
        predictions: Array.from(document.querySelectorAll("[data-prediction]")).map((d) => d.getAttribute("data-prediction")),
      };
    });
    assert.deepEqual(errors, []);
    assert.deepEqual(requests, []);
    assert.ok(seen.tokens.length >= 6, `tokens: ${seen.tokens.length}`);
    assert.equal(tokenLines.length, seen.tokens.length, "the terminal prints the same tokens");
    for (const t of seen.tokens) {
      assert.ok(Number.isFinite(Number(t.attr)), `token ${t.text} has a numeric data-attribution`);
      assert.match(t.bg, /^rgba?\(/, `token ${t.text} is highlighted`);
      assert.ok(t.w > 0, `token ${t.text} is drawn`);
    }
    assert.equal(seen.cells, seen.tokens.length ** 2, "one heatmap cell per query/key pair");
    assert.deepEqual(seen.predictions, ["base model (adapter off)", "with the adapter"]);
    mkdirSync(ARTIFACTS, { recursive: true });
    const shot = join(ARTIFACTS, "explain.png");
    await p.screenshot({ path: shot, fullPage: true });
    console.log(`screenshot: ${shot}`);
  } finally {
    await browser.close();
  }
});

test("peft-ts explain: grad_x_input and rollout runs; one-line errors for bad flags", async () => {
  const out = tmp("explain-");
  for (const method of ["grad_x_input", "rollout"]) {
    let code = -1;
    const stdout = await captureStdout(async () => {
      code = (await cliInProcess(["explain", "-m", BERT_TINY, "--text", "good movie", "--method", method, "--label", "1", "--output", join(out, `${method}.html`)])).code;
    });
    assert.equal(code, 0, stdout);
    assert.match(stdout, new RegExp(`${method} attributions for label LABEL_1`));
    assert.ok(readFileSync(join(out, `${method}.html`), "utf8").includes(`data-token-index="3"`));
  }
  const bad = await cliInProcess(["explain", "-m", BERT_TINY, "--text", "good", "--label", "7", "--output", join(out, "x.html")]);
  assert.notEqual(bad.code, 0);
  assert.match(bad.stderr, /--label '7' is not one of the model's labels/);
  const noText = await cliInProcess(["explain", "-m", BERT_TINY, "--output", join(out, "x.html")]);
  assert.match(noText.stderr, /--text is required/);
  const layer = await cliInProcess(["explain", "-m", BERT_TINY, "--text", "good", "--method", "grad_x_input", "--layer", "9", "--output", join(out, "x.html")]);
  assert.match(layer.stderr, /--layer 9: the model has layers 0…1/);
});
