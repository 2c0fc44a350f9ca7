// The storage formats against their published definitions: the NF4 / FP4 code values as printed
// by QLoRA / bitsandbytes, and the blockwise quantisation of a fixed tensor against the numpy
// reference of scripts/fixtures/make_quant_fixtures.py (written from the paper's formulas).
import { test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { loadSafetensors } from "../../src/io/safetensors.js";
import { DYNAMIC_CODE, FP4_CODE, NF4_CODE } from "../../src/quant/codes.js";
import { dequantize, getQuantFormat } from "../../src/quant/format.js";
import "../../src/quant/formats.js";
import { dequantizeAbsmax } from "../../src/quant/nested_absmax.js";

// QLoRA (Dettmers et al. 2023), appendix E, and bitsandbytes' NF4 table (functional.py / kernels)
const NF4_PUBLISHED = [
  -1.0, -0.6961928009986877, -0.5250730514526367, -0.39491748809814453, -0.28444138169288635,
  -0.18477343022823334, -0.09105003625154495, 0.0, 0.07958029955625534, 0.16093020141124725,
  0.24611230194568634, 0.33791524171829224, 0.44070982933044434, 0.5626170039176941,
  0.7229568362236023, 1.0,
];
// bitsandbytes dDequantizeFP4Tree: codes 0b0000 … 0b0111 (0b1xxx: the same, negative)
const FP4_PUBLISHED = [0, 0.005208333333, 0.66666667, 1.0, 0.33333333, 0.5, 0.16666667, 0.25];

const fx = loadSafetensors(join(import.meta.dirname, "..", "fixtures", "quant", "blockwise.safetensors"));
const t = (k: string) => fx.get(k)!;
const W = t("w").f32();
const [ROWS, COLS] = t("w").shape;

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

test("NF4 code: our table (built from the normal quantiles) equals the published 16 values", () => {
  assert.equal(NF4_CODE.length, 16);
  NF4_PUBLISHED.forEach((v, i) => assert.ok(Math.abs(NF4_CODE[i] - v) <= 1e-7, `NF4[${i}] = ${NF4_CODE[i]}, published ${v}`));
  assert.ok(maxAbsDiff(NF4_CODE, t("nf4_code").f32()) === 0, "NF4 table vs the numpy reference");
});

test("FP4 code: bitsandbytes' e2m1 levels with the sign in bit 3", () => {
  for (let c = 0; c < 8; c++) {
    assert.ok(Math.abs(FP4_CODE[c] - FP4_PUBLISHED[c]) < 1e-7, `FP4[${c}] = ${FP4_CODE[c]}`);
    assert.ok(Math.abs(FP4_CODE[c + 8] + FP4_PUBLISHED[c]) < 1e-7, `FP4[${c + 8}] = ${FP4_CODE[c + 8]}`);
  }
  assert.ok(maxAbsDiff(FP4_CODE, t("fp4_code").f32()) === 0);
});

test("dynamic 8-bit code (double quantisation) equals create_dynamic_map(signed) as written in numpy", () => {
  assert.equal(DYNAMIC_CODE.length, 256);
  assert.ok(maxAbsDiff(DYNAMIC_CODE, t("dynamic_code").f32()) === 0, `max diff ${maxAbsDiff(DYNAMIC_CODE, t("dynamic_code").f32())}`);
  assert.equal(DYNAMIC_CODE[255], 1);
  assert.ok(DYNAMIC_CODE.includes(0));
});

for (const fmt of ["nf4", "fp4"] as const) {
  test(`${fmt}: blockwise quantisation of the fixed tensor matches the reference byte for byte`, () => {
    const q = getQuantFormat(fmt).quantize(W, ROWS, COLS);
    assert.equal(q.blockSize, 64);
    assert.deepEqual(Array.from(q.data), Array.from(t(`${fmt}_data`).data as Uint8Array), `${fmt} packed codes`);
    assert.equal(maxAbsDiff(q.absmax!, t(`${fmt}_absmax`).f32()), 0, `${fmt} absmax`);
  });
}

test("nf4: dequantisation equals the reference's code[idx]·absmax", () => {
  const q = getQuantFormat("nf4").quantize(W, ROWS, COLS);
  assert.ok(maxAbsDiff(dequantize(q), t("nf4_deq").f32()) <= 1e-7);
});

test("nf4 with double quantisation: 8-bit absmax codes, second-level absmax, offset and the dequantised weight match", () => {
  const q = getQuantFormat("nf4").quantize(W, ROWS, COLS, { doubleQuant: true });
  assert.equal(q.absmax, null);
  const n = q.nested!;
  assert.equal(n.blockSize, 256);
  assert.ok(Math.abs(n.offset - t("nf4dq_offset").f32()[0]) <= 1e-9, `offset ${n.offset}`);
  assert.equal(maxAbsDiff(n.absmax2, t("nf4dq_absmax2").f32()), 0);
  assert.deepEqual(Array.from(n.q), Array.from(t("nf4dq_qabsmax").data as Uint8Array));
  assert.ok(maxAbsDiff(dequantize(q), t("nf4dq_deq").f32()) <= 1e-6);
  // the constants themselves come back within the 8-bit code's resolution
  const back = dequantizeAbsmax(n), orig = t("nf4_absmax").f32();
  for (let i = 0; i < orig.length; i++) assert.ok(Math.abs(back[i] - orig[i]) <= 0.02 * Math.max(...n.absmax2), `absmax ${i}`);
});

test("int8: per-row absmax codes and dequantised values match LLM.int8's round(127·w/absmax)", () => {
  const q = getQuantFormat("int8").quantize(W, ROWS, COLS);
  const ref = t("int8_q");
  assert.deepEqual(Array.from(new Int8Array(q.data.buffer, q.data.byteOffset, q.data.length)), Array.from(ref.f32()));
  assert.equal(maxAbsDiff(q.absmax!, t("int8_absmax").f32()), 0);
  assert.ok(maxAbsDiff(dequantize(q), t("int8_deq").f32()) <= 1e-7);
});
