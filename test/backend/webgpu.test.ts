// The WebGPU backend against the TS reference, in headless Debian chromium with SwiftShader's
// WebGPU adapter (test/helpers/webgpu_browser.ts): the page (webgpu_page.ts, bundled by esbuild)
// runs each kernel on random inputs on the GPU and with the TS kernels on the same inputs, and
// returns the elements that disagree beyond the tolerances written there. Cases: GEMM (sizes across
// the 64×64 tile, transposes, batch, broadcast, padded strides, accumulate), elementwise, binary
// broadcasting, reductions, softmax, norms, cross entropy, attention forward/backward plus a
// finite-difference check of the GPU attention backward, and AdamW steps. Without chromium or an
// adapter every case is skipped with the reason (not counted as passed).
import { after, test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { openWebGpuPage } from "../helpers/webgpu_browser.js";

const page = await openWebGpuPage(join(import.meta.dirname, "webgpu_page.ts"));
after(() => page.close());

const names: string[] = page.adapter ? await page.page.evaluate(() => (globalThis as unknown as { __cases: string[] }).__cases) : ["every case"];
if (page.adapter) console.log(`# WebGPU adapter: ${page.adapter}`);
else console.log(`# ${page.why}`);

for (const name of names) {
  test(`webgpu ${name}`, { timeout: 300_000 }, async (t) => {
    if (!page.adapter) {
      t.skip(page.why);
      return;
    }
    const failures = await page.page.evaluate((n) => (globalThis as unknown as { __run(n: string): Promise<string[]> }).__run(n), name);
    assert.deepEqual(failures.slice(0, 20), [], `${failures.length} disagreements`);
  });
}

test("webgpu page: no console errors", (t) => {
  if (!page.adapter) {
    t.skip(page.why);
    return;
  }
  assert.deepEqual(page.errors, []);
});
