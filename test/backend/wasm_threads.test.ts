// The wasm backend's worker pool and module variants: every kernel the pool splits gives bit-identical
// results on 1, 2 and 3 threads (the splits keep each output element's operations and their order);
// the big calls do run on the pool; the thread count option and PEFT_TS_WASM_THREADS are checked;
// without a threaded build or a way to start workers the backend runs on one thread and says why; the
// relaxed-SIMD builds (f32x4.relaxed_madd) agree with the TS reference and are thread-invariant too,
// in this process where the engine validates them, else in a child Node started with
// --experimental-wasm-relaxed-simd (wasm_relaxed_check.ts).
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { createWasmBackend, loadWasmBackend, readWasmModuleSet, wasmThreadsFromEnv } from "../../src/backend/wasm/index.js";
import { wasmModulePath } from "../../src/backend/wasm/file_bytes.js";
import { spawnNodeWorker } from "../../src/backend/wasm/pool_node.js";
import { ConfigError } from "../../src/tensor/errors.js";
import { assertThreadedEqualsOneThread } from "./wasm_helpers.js";

const set = readWasmModuleSet(wasmModulePath()!);

test("wasm on 2 and 3 threads is bit-identical to 1 thread on every split kernel (GEMM by rows/cols/batch, rows, elements, attention)", () => {
  const one = createWasmBackend(set, { threads: 1, relaxed: false });
  assert.equal(one.variant, "simd");
  for (const threads of [2, 3]) {
    const many = createWasmBackend(set, { threads, relaxed: false, spawn: spawnNodeWorker });
    try {
      assert.equal(many.numThreads(), threads);
      assert.equal(many.variant, "threads");
      assert.equal(many.threadNote, null);
      const calls = assertThreadedEqualsOneThread(one, many);
      assert.ok(many.threadedCalls() >= calls, `${many.threadedCalls()} of ${calls} calls ran on the pool`);
    } finally {
      many.close();
    }
  }
  assert.equal(one.threadedCalls(), 0);
});

test("wasm thread count: option, PEFT_TS_WASM_THREADS, and the one-thread fallbacks say why", () => {
  const saved = process.env.PEFT_TS_WASM_THREADS;
  try {
    process.env.PEFT_TS_WASM_THREADS = "3";
    assert.equal(wasmThreadsFromEnv(), 3);
    for (const bad of ["0", "two", "1.5"]) {
      process.env.PEFT_TS_WASM_THREADS = bad;
      assert.throws(() => wasmThreadsFromEnv(), (e: unknown) => e instanceof ConfigError && e.message.includes(`PEFT_TS_WASM_THREADS='${bad}'`));
    }
  } finally {
    if (saved === undefined) delete process.env.PEFT_TS_WASM_THREADS;
    else process.env.PEFT_TS_WASM_THREADS = saved;
  }
  const two = loadWasmBackend(2);
  assert.equal(two.numThreads(), 2);
  assert.equal(loadWasmBackend(2), two, "one backend per thread count is kept");
  // the old signature (one module's bytes, a name) stays one thread
  assert.equal(createWasmBackend(set.simd, "kernels").numThreads(), 1);
  const noBuild = createWasmBackend({ simd: set.simd }, { threads: 4, spawn: spawnNodeWorker });
  assert.equal(noBuild.numThreads(), 1);
  assert.match(noBuild.threadNote!, /no threaded build/);
  // Node has no Web Workers: without a spawner the backend cannot start threads
  const noSpawn = createWasmBackend(set, { threads: 2 });
  assert.equal(noSpawn.numThreads(), 1);
  assert.match(noSpawn.threadNote!, /no way to start workers/);
});

test("relaxed-SIMD builds agree with the TS reference and are thread-invariant (here, or in a child with --experimental-wasm-relaxed-simd)", (t) => {
  const script = join(import.meta.dirname, "wasm_relaxed_check.ts");
  const here = WebAssembly.validate(set.relaxed as BufferSource);
  const args = here ? ["--import", "tsx", script] : ["--experimental-wasm-relaxed-simd", "--import", "tsx", script];
  const r = spawnSync(process.execPath, args, { encoding: "utf8", timeout: 120000 });
  if (r.status !== 0 && /bad option|not allowed in NODE_OPTIONS|unknown flag/i.test(r.stderr)) {
    t.skip(`this Node has no relaxed SIMD, even behind the flag: ${r.stderr.trim().split("\n")[0]}`);
    return;
  }
  assert.equal(r.status, 0, `relaxed check failed:\n${r.stdout}\n${r.stderr}`);
  assert.match(r.stdout, /relaxed: variant relaxed \/ threadsRelaxed, \d+ split calls bit-identical, GEMM and gelu match TS/);
});
