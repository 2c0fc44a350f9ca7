// The browser bundle in headless Debian Chromium: a page on 127.0.0.1 imports dist/browser's
// peft-ts.js, fetches llama-mini-en into memory files (mountUrl), sets the wasm backend
// (useWasmBackend: the .wasm next to the bundle), loads the model and tokenizer, and computes the
// logits of two sentences: equal to Node's within 1e-4, with no console error. The Trainer runs
// two LoRA steps there (checkpoint and adapter in memory files), and a folder persisted to OPFS
// (persistToOpfs) comes back after a reload (restoreFromOpfs), as does one stored in IndexedDB
// when OPFS is taken away.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { extname, join, resolve } from "node:path";
import { chromium, type BrowserContext } from "playwright-core";
import { buildBrowserBundle } from "../../scripts/build-browser.mjs";
import { AutoModelForSequenceClassification } from "../../src/models/auto.js";
import { AutoTokenizer } from "../../src/io/tokenizer.js";
import { manualSeed } from "../../src/tensor/random.js";
import { noGrad } from "../../src/tensor/autograd.js";

const CHROMIUM = "/usr/bin/chromium";
const MODEL = resolve("models/llama-mini-en");
const SENTENCES = ["it 's a charming and often affecting journey .", "unflinchingly bleak and desperate"];
const TYPES: Record<string, string> = { ".js": "text/javascript", ".wasm": "application/wasm", ".json": "application/json", ".html": "text/html" };

let server: Server | null = null;
let browser: BrowserContext | null = null;
let base = "";
let outDir = "";

before(async () => {
  if (!existsSync(CHROMIUM)) return;
  outDir = mkdtempSync(join(tmpdir(), "peft-browser-"));
  await buildBrowserBundle(outDir);
  const files = new Map<string, string>([["/peft-ts.js", join(outDir, "peft-ts.js")], ["/peft_kernels.wasm", join(outDir, "peft_kernels.wasm")]]);
  for (const n of readdirSync(MODEL)) files.set(`/models/llama-mini-en/${n}`, join(MODEL, n));
  server = createServer((req, res) => {
    const url = (req.url ?? "/").split("?")[0];
    if (url === "/") return void res.writeHead(200, { "content-type": "text/html" }).end("<!doctype html><title>peft-ts</title><link rel=\"icon\" href=\"data:,\"><body></body>");
    const path = files.get(url);
    if (!path) return void res.writeHead(404).end();
    res.writeHead(200, { "content-type": TYPES[extname(path)] ?? "application/octet-stream" }).end(readFileSync(path));
  });
  await new Promise<void>((r) => server!.listen(0, "127.0.0.1", r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  // a fresh profile (OPFS lives there), removed with outDir
  browser = await chromium.launchPersistentContext(join(outDir, "profile"), {
    executablePath: CHROMIUM,
    headless: true,
    timeout: 60_000,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
});

after(async () => {
  await browser?.close();
  await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
  if (outDir) rmSync(outDir, { recursive: true, force: true });
});

/**
 * A page script as text (a function handed to page.evaluate would carry tsx's helper calls, which
 * the page lacks): `lib` is the bundle, BASE the server's origin; the body's return value comes back.
 */
function pageScript(body: string): string {
  return `(async () => { const BASE = ${JSON.stringify(base)}; const lib = await import(BASE + "/peft-ts.js"); ${body} })()`;
}

async function nodeLogits(): Promise<number[][]> {
  manualSeed(0);
  const model = await AutoModelForSequenceClassification.fromPretrained(MODEL, { numLabels: 2, log: () => {} });
  const tok = await AutoTokenizer.fromPretrained(MODEL);
  return SENTENCES.map((s) => Array.from(noGrad(() => model.forward({ inputIds: [tok.encode(s)] }).logits!).f32()));
}

test("in Chromium: mountUrl + useWasmBackend + fromPretrained give Node's logits (1e-4), no console errors; the Trainer writes a checkpoint and adapter; OPFS keeps a folder across a reload", { timeout: 240_000 }, async (t) => {
  if (!browser) return t.skip(`${CHROMIUM} not found: the browser test did not run (apt-get install chromium)`);
  const page = await browser.newPage();
  page.setDefaultTimeout(90_000);
  const errors: string[] = [];
  const offsite: string[] = [];
  page.on("console", (m) => void (m.type() === "error" && errors.push(m.text())));
  page.on("pageerror", (e) => void errors.push(String(e)));
  page.on("request", (r) => void (!r.url().startsWith(base) && !r.url().startsWith("data:") && offsite.push(r.url())));
  page.on("response", (r) => void (r.status() >= 400 && errors.push(`HTTP ${r.status()} ${r.url()}`)));
  try {
    await page.goto(`${base}/`);
    const got = await page.evaluate(pageScript(`
      await lib.mountUrl(lib.memoryFiles, "/models/llama-mini-en", BASE + "/models/llama-mini-en/", ${JSON.stringify(readdirSync(MODEL))});
      const backend = await lib.useWasmBackend();
      lib.manualSeed(0);
      const model = await lib.AutoModelForSequenceClassification.fromPretrained("/models/llama-mini-en", { numLabels: 2, log: () => {} });
      const tok = await lib.AutoTokenizer.fromPretrained("/models/llama-mini-en");
      const logits = ${JSON.stringify(SENTENCES)}.map((s) => Array.from(lib.noGrad(() => model.forward({ inputIds: [tok.encode(s)] }).logits).f32()));
      lib.memoryFiles.writeFile("/runs/a/checkpoint-1/w.bin", new Uint8Array([7, 8, 9]));
      const target = await lib.persistToOpfs(lib.memoryFiles, "/runs/a");
      // a browser without OPFS: the IndexedDB fallback
      const getDirectory = StorageManager.prototype.getDirectory;
      delete StorageManager.prototype.getDirectory;
      lib.memoryFiles.writeFile("/runs/b/x.txt", "idb");
      const fallback = await lib.persistToOpfs(lib.memoryFiles, "/runs/b");
      StorageManager.prototype.getDirectory = getDirectory;
      return { backend: backend.name, active: lib.getBackend().name, logits, target, fallback };
    `)) as { backend: string; active: string; logits: number[][]; target: string; fallback: string };
    assert.equal(got.backend, "wasm");
    assert.equal(got.active, "wasm");
    const want = await nodeLogits();
    assert.equal(got.logits.length, want.length);
    got.logits.forEach((row, i) => row.forEach((v, j) => assert.ok(Math.abs(v - want[i][j]) <= 1e-4, `logit [${i}][${j}]: page ${v}, Node ${want[i][j]}`)));
    assert.equal(got.target, "opfs");
    assert.equal(got.fallback, "indexeddb");
    // the Trainer in the page: LoRA, 2 steps, a checkpoint and the adapter, all in memory files
    const trained = await page.evaluate(pageScript(`
      lib.manualSeed(0);
      const base = await lib.AutoModelForSequenceClassification.fromPretrained("/models/llama-mini-en", { numLabels: 2, log: () => {} });
      const tok = await lib.AutoTokenizer.fromPretrained("/models/llama-mini-en");
      const model = lib.getPeftModel(base, new lib.LoraConfig({ taskType: "SEQ_CLS", r: 4, loraAlpha: 8, targetModules: ["q_proj", "v_proj"] }));
      const rows = ${JSON.stringify(SENTENCES)}.flatMap((s, i) => [s, s + " !"].map((t) => {
        const inputIds = tok.encode(t);
        return { inputIds, attentionMask: inputIds.map(() => 1), labels: 1 - i };
      }));
      const args = lib.TrainingArguments.fromDict({ output_dir: "/runs/t", per_device_train_batch_size: 2, max_steps: 2, learning_rate: 0.01,
        save_strategy: "steps", save_steps: 1, logging_steps: 1, disable_tqdm: true, seed: 3, report_to: ["jsonl"] });
      const trainer = new lib.Trainer({ model, args, trainDataset: rows, dataCollator: new lib.DataCollatorWithPadding(tok) });
      await trainer.train();
      await trainer.saveModel("/runs/t/adapter");
      const losses = trainer.state.logHistory.filter((e) => typeof e.loss === "number").map((e) => e.loss);
      return { losses, files: lib.memoryFiles.list("/runs/t").map((p) => p.slice("/runs/t/".length)) };
    `)) as { losses: number[]; files: string[] };
    assert.equal(trained.losses.length, 2);
    assert.ok(trained.losses.every((l) => Number.isFinite(l) && l > 0), `losses ${trained.losses}`);
    for (const f of ["adapter/adapter_config.json", "adapter/adapter_model.safetensors", "checkpoint-1/trainer_state.json", "checkpoint-2/adapter_model.safetensors", "log_history.jsonl", "report.html"]) {
      assert.ok(trained.files.includes(f), `${f} written in the page (have ${trained.files.join(", ")})`);
    }
    await page.reload();
    const restored = await page.evaluate(pageScript(`
      const paths = await lib.restoreFromOpfs(lib.memoryFiles, "/runs/a");
      const none = await lib.restoreFromOpfs(lib.memoryFiles, "/runs/never");
      delete StorageManager.prototype.getDirectory;
      const idb = await lib.restoreFromOpfs(lib.memoryFiles, "/runs/b");
      return { paths, none, idb, bytes: Array.from(lib.memoryFiles.readFile("/runs/a/checkpoint-1/w.bin")), text: lib.memoryFiles.readText("/runs/b/x.txt") };
    `));
    assert.deepEqual(restored, { paths: ["/runs/a/checkpoint-1/w.bin"], none: [], idb: ["/runs/b/x.txt"], bytes: [7, 8, 9], text: "idb" });
    assert.deepEqual(errors, [], "console errors");
    assert.deepEqual(offsite, [], "requests outside the page's origin");
  } finally {
    await page.close();
  }
});
