// The WebGPU folder's host-side logic, without a browser: backend choice (pickBrowserBackend with
// fake navigator.gpu objects), the binary kernel's dim merging, and the argument guards (on a fake
// device that records nothing: the guards run before any GPU call).
import { test } from "node:test";
import assert from "node:assert/strict";
import { detectWebGpu, pickBrowserBackend, type Gpu, type GpuAdapter } from "../../src/backend/webgpu/index.js";
import { mergeDims } from "../../src/backend/webgpu/elementwise.js";
import { assertNoAlias } from "../../src/backend/webgpu/guards.js";
import { webGpuBackendOn, type WebGpuDevice } from "../../src/backend/webgpu/index.js";
import type { GpuArray } from "../../src/backend/webgpu/buffer_pool.js";
import { ConfigError, ShapeError } from "../../src/tensor/errors.js";

const adapter = { limits: {}, features: { has: () => false } } as unknown as GpuAdapter;
const withAdapter: Gpu = { requestAdapter: async () => adapter };
const noAdapter: Gpu = { requestAdapter: async () => null };
const throwing: Gpu = { requestAdapter: async () => { throw new Error("blocklisted"); } };

test("detectWebGpu: the adapter, or null without navigator.gpu, without an adapter, or when requestAdapter throws", async () => {
  assert.equal(await detectWebGpu(withAdapter), adapter);
  assert.equal(await detectWebGpu(noAdapter), null);
  assert.equal(await detectWebGpu(throwing), null);
  assert.equal(await detectWebGpu(undefined), null); // Node has no navigator.gpu
});

test("pickBrowserBackend: auto takes webgpu, else wasm, else ts; a preference is honoured or refused with the reason", async () => {
  assert.deepEqual(await pickBrowserBackend({ gpu: withAdapter }), { name: "webgpu", adapter, reason: "a WebGPU adapter is available" });
  assert.deepEqual(await pickBrowserBackend({ gpu: noAdapter }), { name: "wasm", adapter: null, reason: "no WebGPU adapter" });
  assert.equal((await pickBrowserBackend({ gpu: noAdapter, wasmAvailable: false })).name, "ts");
  // an engine that cannot run on WebGPU yet leaves it out
  assert.deepEqual(await pickBrowserBackend({ gpu: withAdapter, allow: ["wasm", "ts"] }), { name: "wasm", adapter: null, reason: "WebGPU not allowed here" });
  assert.equal((await pickBrowserBackend({ gpu: withAdapter, prefer: "ts" })).name, "ts");
  assert.equal((await pickBrowserBackend({ gpu: withAdapter, prefer: "wasm" })).name, "wasm");
  const config = (re: RegExp) => (e: unknown) => e instanceof ConfigError && re.test((e as Error).message);
  await assert.rejects(pickBrowserBackend({ gpu: noAdapter, prefer: "webgpu" }), config(/'webgpu' was asked for, but this browser gives no WebGPU adapter/));
  await assert.rejects(pickBrowserBackend({ prefer: "wasm", wasmAvailable: false }), config(/'wasm' was asked for, but WebAssembly is not available/));
  await assert.rejects(pickBrowserBackend({ prefer: "webgpu", allow: ["wasm"] }), config(/'webgpu' is not allowed here \(allowed: wasm\)/));
  await assert.rejects(pickBrowserBackend({ prefer: "cuda" as "ts" }), config(/expected 'auto', 'webgpu', 'wasm' or 'ts'/));
  await assert.rejects(pickBrowserBackend({ gpu: noAdapter, allow: ["webgpu"] }), config(/no allowed backend is available/));
});

test("binary dim merging: size-1 dims dropped, neighbours contiguous in both operands merged, broadcast dims kept apart", () => {
  assert.deepEqual(mergeDims([2, 3, 4], [12, 4, 1], [12, 4, 1]), { shape: [24], as: [1], bs: [1] });
  assert.deepEqual(mergeDims([2, 1, 3, 4], [12, 0, 4, 1], [0, 0, 4, 1]), { shape: [2, 12], as: [12, 1], bs: [0, 1] });
  // a transposed operand stops the merge
  assert.deepEqual(mergeDims([5, 9], [1, 5], [9, 1]), { shape: [5, 9], as: [1, 5], bs: [9, 1] });
  assert.deepEqual(mergeDims([1, 1], [0, 0], [0, 0]), { shape: [], as: [], bs: [] });
});

test("kernels refuse an output that is also an input (WebGPU cannot bind a buffer writable and readable in one dispatch)", () => {
  const a = {} as GpuArray, b = {} as GpuArray;
  assert.doesNotThrow(() => assertNoAlias("softmax", [a], [b, null]));
  assert.throws(() => assertNoAlias("softmax", [a], [b, a]), (e: unknown) => e instanceof ShapeError && /^webgpu softmax: an output is also an input/.test((e as Error).message));
});

test("kernels refuse operands shorter than the parameters say, and f32 index arrays (ShapeError naming the kernel and operand), before touching the device", () => {
  const dev = { pool: {}, adapterName: "fake", dispatch: () => assert.fail("dispatched") } as unknown as WebGpuDevice;
  const gpu = webGpuBackendOn(dev);
  const arr = (length: number, dtype = "f32") => ({ length, dtype, released: false }) as unknown as GpuArray;
  const shape = (re: RegExp) => (e: unknown) => e instanceof ShapeError && re.test((e as Error).message);
  assert.throws(() => gpu.softmax(arr(6), arr(8), 2, 4), shape(/^webgpu softmax: x has 6 elements, needs 8$/));
  assert.throws(() => gpu.layerNorm(arr(8), arr(3), null, arr(8), arr(2), arr(2), 2, 4, 1e-5), shape(/^webgpu layerNorm: w has 3 elements, needs 4$/));
  assert.throws(() => gpu.crossEntropy(arr(8), arr(1, "i32"), arr(2), arr(2), 2, 4, -100, 0), shape(/^webgpu crossEntropy: labels has 1 elements, needs 2$/));
  const p = { batch: 2, heads: 2, kvHeads: 1, tq: 3, tk: 4, headDim: 5, scale: 1, causal: false };
  assert.throws(() => gpu.attention(arr(60), arr(40), arr(40), arr(7), arr(60), arr(48), p), shape(/^webgpu attention: mask has 7 elements, needs 8$/));
  assert.throws(() => gpu.attentionBackward(arr(60), arr(40), arr(40), arr(48), arr(60), arr(60), arr(39), arr(40), p), shape(/^webgpu attentionBackward: gk has 39 elements, needs 40$/));
  // a broadcast operand is read up to its last strided element only
  assert.throws(() => gpu.binary("add", arr(12), arr(2), arr(12), [3, 4], [4, 1], [0, 1]), shape(/^webgpu binary: b has 2 elements, needs 4$/));
  assert.throws(() => gpu.matmul(arr(16), arr(31), arr(32), { batch: 2, m: 4, n: 4, k: 4, transA: false, transB: false, strideA: 0, strideB: 16, strideOut: 16, accumulate: false }),
    shape(/^webgpu matmul: b has 31 elements, needs 32$/));
  assert.throws(() => gpu.crossEntropy(arr(8), arr(2), arr(2), arr(2), 2, 4, -100, 0), shape(/^webgpu crossEntropy: labels is f32, expected i32 \(upload an Int32Array\)$/));
  assert.throws(() => gpu.adamw(arr(5), arr(5), arr(4), arr(5), { lr: 1, beta1: 0.9, beta2: 0.9, eps: 1, weightDecay: 0, step: 1 }), shape(/^webgpu adamw: m has 4 elements, needs 5$/));
});
