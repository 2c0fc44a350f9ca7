import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import {
  bf16ArrayToF32, bf16BitsToF32, f16ArrayToF32, f16BitsToF32, f32ArrayToBf16, f32ArrayToF16, f32ToBf16Bits, f32ToF16Bits,
} from "../../src/tensor/dtype.js";
import { Tensor } from "../../src/tensor/tensor.js";
import { tsBackend } from "../../src/backend/registry.js";
import * as ops from "../../src/ops/index.js";
import { assertClose } from "../helpers/gradcheck.js";
import { readSafetensors } from "../helpers/safetensors_min.js";

const golden = (p: string) => fileURLToPath(new URL(`../../../shared/golden/${p}`, import.meta.url));
const G = JSON.parse(readFileSync(golden("bf16/roundtrip.json"), "utf8"));
const rows: Record<string, string>[] = G.rows;
const hex = (s: string) => parseInt(s, 16);
const h = (n: number, w: number) => "0x" + n.toString(16).toUpperCase().padStart(w, "0");

// Inputs are fed as raw bit patterns so signalling NaNs and subnormals reach the converters untouched.
const f32In = new Float32Array(Uint32Array.from(rows, (r) => hex(r.f32_bits)).buffer);
// torch maps every NaN to one bf16 pattern (README: compare NaN rows with isNaN only)
const isNanRow = (r: Record<string, string>) => r.f32 === "NaN";

test("bf16: f32 → bf16 → f32 is bit-exact with PyTorch (round to nearest even, ±0, ±inf, subnormals, overflow)", () => {
  assert.equal(rows.length, 100);
  const bits = f32ArrayToBf16(f32In);
  const back = new Uint32Array(bf16ArrayToF32(bits).buffer);
  rows.forEach((r, i) => {
    if (isNanRow(r)) {
      assert.ok(Number.isNaN(bf16BitsToF32(bits[i])), `row ${i}: NaN must stay NaN`);
      return;
    }
    assert.equal(h(bits[i], 4), r.bf16_bits, `row ${i} (${r.f32}): bf16 bits`);
    assert.equal(h(back[i], 8), r.bf16_as_f32_bits, `row ${i} (${r.f32}): bf16→f32 bits`);
    assert.equal(f32ToBf16Bits(f32In[i]), bits[i], `row ${i}: scalar and array paths agree`);
  });
  // the backend kernels use the same conversion
  const kb = new Uint16Array(rows.length);
  tsBackend.f32ToBf16(f32In, kb);
  rows.forEach((r, i) => { if (!isNanRow(r)) assert.equal(h(kb[i], 4), r.bf16_bits); });
});

test("f16: f32 → f16 → f32 is bit-exact with PyTorch (subnormal ties, overflow to inf)", () => {
  const bits = f32ArrayToF16(f32In);
  const back = f16ArrayToF32(bits);
  const backBits = new Uint32Array(back.buffer);
  rows.forEach((r, i) => {
    if (isNanRow(r)) {
      assert.ok(Number.isNaN(f16BitsToF32(bits[i])), `row ${i}: NaN must stay NaN`);
      return;
    }
    assert.equal(h(bits[i], 4), r.f16_bits, `row ${i} (${r.f32}): f16 bits`);
    assert.equal(h(backBits[i], 8), r.f16_as_f32_bits, `row ${i} (${r.f32}): f16→f32 bits`);
    assert.equal(f32ToF16Bits(f32In[i]), bits[i]);
  });
});

test("Tensor.to(bf16/f16) uses the same rounding and widens back exactly", () => {
  const ok = rows.map((r, i) => i).filter((i) => !isNanRow(rows[i]));
  const t = new Tensor(Float32Array.from(ok, (i) => f32In[i]), [ok.length]);
  const b = t.to("bf16"), f = t.to("f16");
  assert.equal(b.dtype, "bf16");
  ok.forEach((ri, j) => {
    assert.equal(h((b.storage as Uint16Array)[j], 4), rows[ri].bf16_bits);
    assert.equal(h((f.storage as Uint16Array)[j], 4), rows[ri].f16_bits);
  });
  assert.deepEqual(Array.from(b.to("f32").f32()), ok.map((ri) => Number(rows[ri].bf16_as_f32)));
});

test("bf16 golden matmul: f32 accumulation over bf16 inputs matches torch", () => {
  const st = readSafetensors(golden("bf16/bf16_matmul.safetensors"));
  const a = st.get("a_bf16")!, b = st.get("b_bf16")!;
  const want = st.get("out_f32_from_bf16_inputs")!;
  const ta = new Tensor(a.bits!, a.shape, "bf16"), tb = new Tensor(b.bits!, b.shape, "bf16");
  const out = ops.matmul(ta, tb);
  assert.deepEqual(out.shape, want.shape);
  assertClose(out.f32(), want.data, 1e-5, 1e-5, "bf16 inputs, f32 matmul");
  // torch's bf16 matmul output, rounded to bf16 once: our f32 result rounded to bf16 is within 1 bf16 ulp
  const outBf16 = out.to("bf16").f32(), torchBf16 = st.get("out_bf16")!.data;
  for (let i = 0; i < outBf16.length; i++) {
    const ulp = Math.abs(torchBf16[i]) * 2 ** -7 + 1e-30;
    assert.ok(Math.abs(outBf16[i] - torchBf16[i]) <= ulp, `bf16 out[${i}]: ${outBf16[i]} vs torch ${torchBf16[i]}`);
  }
  // the bf16-weight GEMM path (frozen weights) gives the same as widening first
  const lin = ops.linear(new Tensor(a.data, a.shape), new Tensor(b.bits!, b.shape, "bf16").to("f32").T.contiguous().to("bf16"));
  assertClose(lin.f32(), want.data, 1e-5, 1e-5, "linear with bf16 weight");
});
