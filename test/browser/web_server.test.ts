// The `npm run web` server: what each URL serves (MIME types, wasm included), the cross-origin
// isolation headers on every answer, 127.0.0.1 only, and no way out of its folders.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { request } from "node:http";
import { resolveUrlPath, startWebServer, type WebServer } from "../../scripts/web_server.js";
import { tmp } from "../peft/helpers.js";

let root = "";
let web: WebServer;
before(async () => {
  root = tmp("web-root-");
  for (const d of ["dist/web", "dist/browser", "models/m", "data/sst2"]) mkdirSync(join(root, d), { recursive: true });
  writeFileSync(join(root, "dist/web/index.html"), "<!doctype html><p>page</p>");
  writeFileSync(join(root, "dist/web/page.js"), "export {};");
  writeFileSync(join(root, "dist/browser/peft_kernels.wasm"), new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0]));
  writeFileSync(join(root, "models/m/model.safetensors"), new Uint8Array(16));
  writeFileSync(join(root, "data/sst2/dev.tsv"), "sentence\tlabel\nfine\t1\n");
  writeFileSync(join(root, "secret.txt"), "not served");
  web = await startWebServer({ port: 0, root });
});
after(() => web.close());

function get(path: string, method = "GET"): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: Buffer }> {
  return new Promise((ok, fail) => {
    // a raw path (no URL normalisation), as a hostile client would send it
    const req = request({ host: "127.0.0.1", port: web.port, path, method }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => ok({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) }));
    });
    req.on("error", fail);
    req.end();
  });
}

test("serves the page, the bundle, models and data with their MIME types and COOP/COEP", async () => {
  const cases: [string, string][] = [
    ["/", "text/html; charset=utf-8"],
    ["/?autorun=1&steps=3", "text/html; charset=utf-8"],
    ["/page.js", "text/javascript; charset=utf-8"],
    ["/browser/peft_kernels.wasm", "application/wasm"],
    ["/models/m/model.safetensors", "application/octet-stream"],
    ["/data/sst2/dev.tsv", "text/tab-separated-values; charset=utf-8"],
  ];
  for (const [path, type] of cases) {
    const r = await get(path);
    assert.equal(r.status, 200, path);
    assert.equal(r.headers["content-type"], type, path);
    assert.equal(r.headers["cross-origin-opener-policy"], "same-origin", path);
    assert.equal(r.headers["cross-origin-embedder-policy"], "require-corp", path);
  }
  assert.equal((await get("/browser/peft_kernels.wasm")).body.length, 8);
  assert.equal((await get("/", "HEAD")).body.length, 0);
  assert.equal(web.url, `http://127.0.0.1:${web.port}/`);
  assert.equal(web.server.address() && typeof web.server.address() === "object" ? (web.server.address() as { address: string }).address : "", "127.0.0.1");
});

test("answers 404 outside its folders and 405 to writes", async () => {
  for (const path of ["/../secret.txt", "/models/../secret.txt", "/models/%2e%2e/secret.txt", "/data/..%2f..%2fsecret.txt", "/nope.js", "/models/", "/%zz"]) {
    const r = await get(path);
    assert.equal(r.status, 404, path);
    assert.equal(r.headers["cross-origin-embedder-policy"], "require-corp", path);
  }
  assert.equal(resolveUrlPath("/models/%2e%2e/secret.txt", root), null);
  assert.equal((await get("/", "POST")).status, 405);
});

test("other mounts, and no isolation headers when asked", async () => {
  const other = await startWebServer({ root, mounts: [["/kernels/", "dist/browser"]], isolated: false });
  try {
    const url = `http://127.0.0.1:${other.port}`;
    const ok = await fetch(`${url}/kernels/peft_kernels.wasm`);
    assert.equal(ok.status, 200);
    assert.equal(ok.headers.get("content-type"), "application/wasm");
    assert.equal(ok.headers.get("cross-origin-embedder-policy"), null);
    assert.equal((await fetch(`${url}/index.html`)).status, 404);
  } finally {
    await other.close();
  }
});
