// ggml block codecs against the gguf Python package's numpy reference (gguf.quants.quantize /
// dequantize), read from blocks.gguf (scripts/fixtures/make_gguf_fixtures.py).
import { test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { GgufFile } from "../../src/io/gguf_reader.js";
import { GGML_CODECS, dequantizeGgml, ggmlCodecForType } from "../../src/quant/ggml_blocks.js";
import { ConfigError, ShapeError } from "../../src/tensor/errors.js";

const FIX = join(import.meta.dirname, "..", "fixtures", "gguf", "blocks.gguf");

function f32(bytes: Uint8Array): Float32Array {
  return new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
}

function firstDiff(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < Math.max(a.length, b.length); i++) if (a[i] !== b[i]) return i;
  return -1;
}

const file = new GgufFile(FIX);
const input = f32(file.rawBytes("input"));
const [rows, cols] = file.tensor("input")!.shape;

for (const [name, key] of [["q8_0", "Q8_0"], ["q4_0", "Q4_0"], ["q4_1", "Q4_1"], ["bf16", "BF16"], ["f16", "F16"]] as const) {
  test(`${key}: quantizeRows is bit-identical to gguf.quants.quantize, dequantizeRow to dequantize`, () => {
    const codec = GGML_CODECS[key];
    const info = file.tensor(name)!;
    assert.equal(ggmlCodecForType(info.type), codec, `${name} is stored as ggml type ${info.type}`);
    const want = file.rawBytes(name);
    const got = codec.quantizeRows(input, rows, cols);
    assert.equal(got.length, rows * codec.rowBytes(cols));
    assert.equal(firstDiff(got, want), -1, `${key}: first differing byte`);
    const deq = dequantizeGgml(codec, want, rows, cols);
    assert.deepEqual(deq, f32(file.rawBytes(`${name}.deq`)));
    // the all-zero block stays zero; the error is within half a quantisation step of the block's scale
    assert.ok(deq.subarray(cols, cols + 32).every((v) => v === 0));
  });
}

for (const [name, key] of [["q4_k", "Q4_K"], ["q6_k", "Q6_K"]] as const) {
  test(`${key}: dequantizeRow equals gguf.quants.dequantize on random super-blocks`, () => {
    const codec = GGML_CODECS[key];
    const info = file.tensor(name)!;
    assert.equal(info.type, codec.type);
    assert.deepEqual(info.shape, [2, 256]);
    assert.deepEqual(dequantizeGgml(codec, file.rawBytes(name), 2, 256), f32(file.rawBytes(`${name}.deq`)));
    assert.throws(() => codec.quantizeRows(new Float32Array(256), 1, 256), (e: Error) => e instanceof ConfigError && /quantising to (Q4_K|Q6_K) is not supported/.test(e.message));
  });
}

test("quantisation error: Q8_0 within half a step (amax/254), Q4_0 within amax/8 (the far end of -8..7 is clipped), plus f16 scale rounding", () => {
  for (const [key, bound] of [["Q8_0", 1 / 254], ["Q4_0", 1 / 8]] as const) {
    const codec = GGML_CODECS[key];
    const deq = dequantizeGgml(codec, codec.quantizeRows(input, rows, cols), rows, cols);
    for (let b = 0; b < input.length / 32; b++) {
      let amax = 0;
      for (let j = 0; j < 32; j++) amax = Math.max(amax, Math.abs(input[b * 32 + j]));
      for (let j = 0; j < 32; j++) {
        const err = Math.abs(deq[b * 32 + j] - input[b * 32 + j]);
        assert.ok(err <= amax * bound * 1.01 + amax * 1e-3, `${key} block ${b} elem ${j}: error ${err} vs amax ${amax}`);
      }
    }
  }
});

test("bad shapes are ShapeErrors naming the format", () => {
  assert.throws(() => GGML_CODECS.Q8_0.quantizeRows(new Float32Array(48), 1, 48), (e: Error) => e instanceof ShapeError && /Q8_0: rows of 48 elements are not a multiple of the block size 32/.test(e.message));
  assert.throws(() => GGML_CODECS.Q4_0.dequantizeRow(new Uint8Array(18), 32, 1, new Float32Array(32)), (e: Error) => e instanceof ShapeError && /Q4_0: row 1/.test(e.message));
});
