// Child of wasm_threads.test.ts, run where the engine validates relaxed SIMD (Node 20: with
// --experimental-wasm-relaxed-simd): the relaxed builds are the ones picked, their GEMM (one
// f32x4.relaxed_madd per product: fused or not, the engine's choice) and gelu agree with the TS reference
// at the tolerances of wasm.test.ts, and 2 threads give the same bits as 1. Prints one summary line.
import "../../src/node.js";
import assert from "node:assert/strict";
import { createWasmBackend, readWasmModuleSet } from "../../src/backend/wasm/index.js";
import { wasmModulePath } from "../../src/backend/wasm/file_bytes.js";
import { spawnNodeWorker } from "../../src/backend/wasm/pool_node.js";
import { tsBackend } from "../../src/backend/ts/index.js";
import { Rng } from "../../src/tensor/random.js";
import { SPLIT_GEMMS, assertThreadedEqualsOneThread, close, maxAbs } from "./wasm_helpers.js";

const set = readWasmModuleSet(wasmModulePath()!);
assert.ok(WebAssembly.validate(set.relaxed as BufferSource), "this engine does not validate the relaxed build");
const one = createWasmBackend(set, { threads: 1 });
const two = createWasmBackend(set, { threads: 2, spawn: spawnNodeWorker });
assert.equal(one.variant, "relaxed");
assert.equal(two.variant, "threadsRelaxed");
const rng = new Rng(7);
for (const p of [...SPLIT_GEMMS, { ...SPLIT_GEMMS[0], m: 7, n: 33, k: 65 }]) {
  const a = rng.fillNormal(new Float32Array(p.strideA * (p.batch - 1) + p.m * p.k));
  const b = rng.fillNormal(new Float32Array(p.strideB * (p.batch - 1) + p.k * p.n));
  const o1 = rng.fillNormal(new Float32Array(p.strideOut * (p.batch - 1) + p.m * p.n)), o2 = o1.slice();
  one.matmul(a, b, o1, p);
  tsBackend.matmul(a, b, o2, p);
  close(o1, o2, 1e-5, 2e-6 * Math.sqrt(p.k) * Math.max(1, maxAbs(o2) / Math.sqrt(p.k)), `relaxed matmul ${JSON.stringify(p)}`);
}
const x = rng.fillNormal(new Float32Array(10007), 0, 3), y1 = new Float32Array(x.length), y2 = new Float32Array(x.length);
one.unary("gelu", x, y1, 0);
tsBackend.unary("gelu", x, y2, 0);
close(y1, y2, 1e-6, 1e-6, "relaxed gelu");
const calls = assertThreadedEqualsOneThread(one, two);
two.close();
console.log(`relaxed: variant ${one.variant} / ${two.variant}, ${calls} split calls bit-identical, GEMM and gelu match TS`);
