// QuantLinear: forward and input gradient equal an f32 Linear holding the explicitly dequantised
// weight (on the current backend: run with PEFT_TS_BACKEND=ts and =native), for every format, with
// and without bias, double quantisation and bf16 compute; round-trip error bounds; a finite-difference
// check of LoRA's gradients on top of a quantised base.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Tensor } from "../../src/tensor/tensor.js";
import { Rng } from "../../src/tensor/random.js";
import { Linear, withDeferredWeights } from "../../src/nn/layers.js";
import { QuantLinear } from "../../src/nn/quant_linear.js";
import { linear } from "../../src/ops/index.js";
import { dequantize, getQuantFormat } from "../../src/quant/format.js";
import { roundToBf16InPlace } from "../../src/quant/quant_gemm.js";
import { getBackend } from "../../src/backend/registry.js";
import { LoraConfig } from "../../src/peft/lora/config.js";
import { LoraLayer } from "../../src/peft/lora/layer.js";
import { gradcheck, randn } from "../helpers/gradcheck.js";

function relErr(a: Float32Array, b: Float32Array): number {
  let num = 0, den = 0;
  for (let i = 0; i < a.length; i++) { num = Math.max(num, Math.abs(a[i] - b[i])); den = Math.max(den, Math.abs(b[i])); }
  return num / den;
}

function linearWith(w: Float32Array, out: number, inn: number, bias: Tensor | null): Linear {
  const lin = withDeferredWeights(() => new Linear(inn, out, { bias: bias !== null }));
  lin.registerParameter("weight", new Tensor(w, [out, inn]));
  if (bias) lin.registerParameter("bias", bias);
  return lin;
}

const CASES = [
  { format: "int8", doubleQuant: false, bf16: false, bias: true, out: 70, inn: 96 },
  { format: "nf4", doubleQuant: false, bf16: false, bias: false, out: 67, inn: 128 },
  { format: "nf4", doubleQuant: true, bf16: false, bias: true, out: 300, inn: 64 },
  { format: "fp4", doubleQuant: false, bf16: false, bias: true, out: 33, inn: 90 },
  { format: "nf4", doubleQuant: true, bf16: true, bias: true, out: 40, inn: 192 },
];

for (const c of CASES) {
  test(`QuantLinear ${c.format}${c.doubleQuant ? "+dq" : ""}${c.bf16 ? " bf16" : ""} [${c.out}×${c.inn}] on ${getBackend().name}: forward and input gradient equal the dequantised Linear (≤ 1e-5 rel)`, () => {
    const rng = new Rng(7);
    const w = randn([c.out, c.inn], rng, 0.1);
    const bias = c.bias ? randn([c.out], rng, 0.1) : null;
    const ql = QuantLinear.fromLinear(linearWith(w.f32(), c.out, c.inn, bias), c.format, { doubleQuant: c.doubleQuant, computeDtype: c.bf16 ? "bf16" : "f32" });
    assert.equal(ql.bias?.requiresGrad ?? false, false, "the bias of a quantised layer is frozen");
    const deq = dequantize(ql.qweight);
    if (c.bf16) roundToBf16InPlace(deq);
    const ref = linearWith(deq, c.out, c.inn, bias ? new Tensor(bias.f32(), [c.out]) : null);
    ref.requiresGrad_(false);
    const x = randn([3, 5, c.inn], rng);
    const xr = new Tensor(x.f32().slice(), x.shape);
    if (c.bf16) roundToBf16InPlace(xr.data);
    x.requiresGrad = true;
    xr.requiresGrad = true;
    const y = ql.forward(x), yr = ref.forward(xr);
    assert.deepEqual(y.shape, [3, 5, c.out]);
    assert.ok(relErr(y.f32(), yr.f32()) <= 1e-5, `forward rel err ${relErr(y.f32(), yr.f32())}`);
    const g = randn(y.shape, rng);
    const gr = new Tensor(g.f32().slice(), g.shape);
    if (c.bf16) roundToBf16InPlace(gr.data);
    y.backward(g);
    yr.backward(gr);
    assert.ok(relErr(x.grad!.f32(), xr.grad!.f32()) <= 1e-5, `input grad rel err ${relErr(x.grad!.f32(), xr.grad!.f32())}`);
  });
}

test("quantise → dequantise error bounds: int8 ≤ absmax_row/254, nf4/fp4 ≤ half the widest code gap × absmax", () => {
  const rng = new Rng(3);
  const w = randn([64, 256], rng, 0.05).f32();
  const q8 = getQuantFormat("int8").quantize(w, 64, 256), d8 = dequantize(q8);
  for (let r = 0; r < 64; r++) for (let c = 0; c < 256; c++) {
    assert.ok(Math.abs(d8[r * 256 + c] - w[r * 256 + c]) <= q8.absmax![r] / 254 * (1 + 1e-5), `int8 (${r},${c})`);
  }
  const gaps = { nf4: 1 - 0.6961928009986877, fp4: 1 / 3 }; // widest gaps between neighbouring levels (−1…−0.696; 2/3…1)
  for (const f of ["nf4", "fp4"] as const) {
    const q = getQuantFormat(f).quantize(w, 64, 256), d = dequantize(q);
    for (let i = 0; i < w.length; i++) {
      const am = q.absmax![(i / 64) | 0];
      assert.ok(Math.abs(d[i] - w[i]) <= (gaps[f] / 2) * am * (1 + 1e-5), `${f} element ${i}: ${d[i]} vs ${w[i]}`);
    }
    // the block maximum itself is represented exactly (±1 is a level of both codes)
    for (let b = 0; b < w.length / 64; b++) {
      let k = b * 64;
      for (let i = b * 64; i < b * 64 + 64; i++) if (Math.abs(w[i]) > Math.abs(w[k])) k = i;
      assert.equal(d[k], w[k], `${f} block ${b} max`);
    }
  }
  // relative Frobenius error: nf4 beats fp4 on normally distributed weights (the point of NF4)
  const fro = (f: string) => {
    const d = dequantize(getQuantFormat(f).quantize(w, 64, 256));
    let n = 0, s = 0;
    for (let i = 0; i < w.length; i++) { n += (d[i] - w[i]) ** 2; s += w[i] ** 2; }
    return Math.sqrt(n / s);
  };
  assert.ok(fro("nf4") < fro("fp4"), `nf4 ${fro("nf4")} vs fp4 ${fro("fp4")}`);
  assert.ok(fro("int8") < 0.02 && fro("nf4") < 0.12, `int8 ${fro("int8")}, nf4 ${fro("nf4")}`);
});

test("storage sizes: nf4 ≈ 4.5 bits/value, with double quant ≈ 4.127, int8 ≈ 8 + 32/cols", () => {
  const nf4 = getQuantFormat("nf4"), i8 = getQuantFormat("int8");
  assert.equal(nf4.storageBytes(1024, 1024), 1024 * 1024 / 2 + 4 * 1024 * 1024 / 64);
  const q = nf4.quantize(new Float32Array(256 * 256).fill(0.5), 256, 256, { doubleQuant: true });
  assert.equal(q.data.byteLength + q.nested!.q.byteLength + q.nested!.absmax2.byteLength + 4, nf4.storageBytes(256, 256, { doubleQuant: true }));
  assert.equal(i8.storageBytes(10, 100), 1000 + 40);
});

test("LoRA on a QuantLinear: wraps it like a Linear, gradients of x, lora_A and lora_B pass a finite-difference check", () => {
  const rng = new Rng(11);
  const base = linearWith(randn([12, 16], rng, 0.3).f32(), 12, 16, randn([12], rng, 0.1));
  const ql = QuantLinear.fromLinear(base, "nf4", { blockSize: 16 });
  const layer = new LoraLayer(ql);
  layer.updateLayer("default", new LoraConfig({ r: 3, loraAlpha: 6, initLoraWeights: false }), { key: "q", activeAdapters: ["default"] });
  const A = layer.lora_A.get("default").weight, B = layer.lora_B.get("default").weight;
  const x = randn([2, 4, 16], rng);
  // the fused op equals base(x) + s·(x·Aᵀ)·Bᵀ written out with f32 ops
  const explicit = linear(x, new Tensor(dequantize(ql.qweight), [12, 16]), ql.bias).f32();
  const lora = linear(linear(x, A.detach()), B.detach()).f32();
  const fused = layer.forward(x).f32();
  for (let i = 0; i < fused.length; i++) assert.ok(Math.abs(fused[i] - (explicit[i] + 2 * lora[i])) < 1e-5, `fused LoRA element ${i}`);
  gradcheck((xi, a, b) => {
    layer.lora_A.get("default").registerParameter("weight", a);
    layer.lora_B.get("default").registerParameter("weight", b);
    return layer.forward(xi);
  }, [x, A, B], { name: "lora(quant nf4)", eps: 1e-2 });
});

test(`quantMatmul on ${getBackend().name}: the values the kernel multiplies are bit-identical to the TS dequantisation (odd widths, nested constants)`, () => {
  const be = getBackend();
  if (be.name === "native") assert.ok(be.supports("quantMatmul"), "the native backend has its own quantMatmul");
  const rng = new Rng(5);
  for (const [format, rows, cols, doubleQuant] of [["nf4", 37, 75, true], ["fp4", 20, 33, false], ["int8", 19, 41, false], ["nf4", 300, 64, true]] as const) {
    const w = randn([rows, cols], rng, 0.2).f32();
    const q = getQuantFormat(format).quantize(w, rows, cols, { doubleQuant });
    const eye = new Float32Array(cols * cols);
    for (let i = 0; i < cols; i++) eye[i * cols + i] = 1;
    const out = new Float32Array(cols * rows);
    be.quantMatmul(eye, q, out, cols, "forward", false);
    const d = dequantize(q);
    for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) {
      if (out[c * rows + r] !== d[r * cols + c]) assert.fail(`${format} [${rows}×${cols}] (${r},${c}): kernel ${out[c * rows + r]}, reference ${d[r * cols + c]}`);
    }
    // backward with the identity: out = I · W = W
    const eyeR = new Float32Array(rows * rows);
    for (let i = 0; i < rows; i++) eyeR[i * rows + i] = 1;
    const back = new Float32Array(rows * cols);
    be.quantMatmul(eyeR, q, back, rows, "backward", false);
    for (let i = 0; i < d.length; i++) if (back[i] !== d[i]) assert.fail(`${format} backward element ${i}: ${back[i]} vs ${d[i]}`);
  }
});
