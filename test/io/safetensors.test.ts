import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, readdirSync, statSync, writeFileSync, rmSync, mkdirSync, copyFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  loadSafetensors, loadSafetensorsDir, readSafetensorsHeader, saveSafetensors,
} from "../../src/io/safetensors.js";
import { FormatError } from "../../src/tensor/errors.js";
import { Tensor } from "../../src/tensor/tensor.js";
import { bf16BitsToF32, f16BitsToF32 } from "../../src/tensor/dtype.js";

const GOLDEN = "/work/shared/golden";
const FIXTURES = "/work/shared/fixtures";

function walk(dir: string, out: string[] = []): string[] {
  for (const n of readdirSync(dir).sort()) {
    const p = join(dir, n);
    if (statSync(p).isDirectory()) walk(p, out);
    else if (n.endsWith(".safetensors")) out.push(p);
  }
  return out;
}

function tmp(): string {
  return mkdtempSync(join(tmpdir(), "peft-ts-st-"));
}

/** A tiny, independent header reader (plain JSON.parse) used to cross-check ours. */
function rawHeader(bytes: Uint8Array): { n: number; json: any } {
  const n = Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
  return { n, json: JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n))) };
}

const goldenFiles = [...walk(GOLDEN), ...walk(join(FIXTURES, "models"))];

test("every golden/fixture safetensors file: header agrees with an independent parse", () => {
  assert.ok(goldenFiles.length >= 40, `found ${goldenFiles.length} files`);
  for (const f of goldenFiles) {
    const bytes = new Uint8Array(readFileSync(f));
    const { n, json } = rawHeader(bytes);
    const h = readSafetensorsHeader(f);
    assert.equal(h.dataOffset, 8 + n, f);
    assert.deepEqual(h.metadata, json.__metadata__ ?? null, f);
    const names = Object.keys(json).filter((k) => k !== "__metadata__");
    assert.deepEqual([...h.tensors.keys()].sort(), names.sort(), f);
    for (const k of names) {
      const e = h.tensors.get(k)!;
      assert.equal(e.dtype, json[k].dtype);
      assert.deepEqual(e.shape, json[k].shape);
      assert.deepEqual([e.begin, e.end], json[k].data_offsets);
    }
  }
});

test("save(load(file)) reproduces every golden file written by the Rust writer byte for byte", () => {
  const dir = tmp();
  try {
    let i = 0;
    for (const f of goldenFiles) {
      const h = readSafetensorsHeader(f);
      const t = loadSafetensors(f, { dtype: "keep" });
      const out = join(dir, `${i++}.safetensors`);
      saveSafetensors(out, t, h.metadata);
      const a = readFileSync(f), b = readFileSync(out);
      assert.ok(a.equals(b), `${f}: rewritten file differs (${a.length} vs ${b.length} bytes)`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("bert-tiny-random model.safetensors: 41 tensors with config shapes", () => {
  const cfg = JSON.parse(readFileSync(join(GOLDEN, "bert-tiny-random/config.json"), "utf8"));
  const t = loadSafetensors(join(GOLDEN, "bert-tiny-random/model.safetensors"));
  assert.equal(t.size, 41);
  assert.deepEqual(t.get("bert.embeddings.word_embeddings.weight")!.shape, [cfg.vocab_size, cfg.hidden_size]);
  assert.deepEqual(t.get("bert.embeddings.position_embeddings.weight")!.shape, [cfg.max_position_embeddings, cfg.hidden_size]);
  assert.deepEqual(t.get("bert.encoder.layer.1.intermediate.dense.weight")!.shape, [cfg.intermediate_size, cfg.hidden_size]);
  assert.deepEqual(t.get("classifier.weight")!.shape, [2, cfg.hidden_size]);
  for (const v of t.values()) assert.equal(v.dtype, "f32");
  // values agree with a direct little-endian decode
  const bytes = readFileSync(join(GOLDEN, "bert-tiny-random/model.safetensors"));
  const { n, json } = rawHeader(new Uint8Array(bytes));
  const [b] = json["classifier.weight"].data_offsets;
  const w = t.get("classifier.weight")!.data as Float32Array;
  for (let i = 0; i < w.length; i++) assert.equal(w[i], bytes.readFloatLE(8 + n + b + 4 * i));
});

test("bf16/f16 tensors decode to the golden round-trip values; keep / bf16 options", () => {
  const f = join(GOLDEN, "bf16/roundtrip.safetensors");
  const rows = JSON.parse(readFileSync(join(GOLDEN, "bf16/roundtrip.json"), "utf8"));
  const keep = loadSafetensors(f, { dtype: "keep" });
  assert.equal(keep.get("bf16")!.dtype, "bf16");
  assert.equal(keep.get("f16")!.dtype, "f16");
  const conv = loadSafetensors(f);
  assert.equal(conv.get("bf16")!.dtype, "f32");
  const bf = conv.get("bf16")!.data as Float32Array, bfRef = conv.get("bf16_as_f32")!.data as Float32Array;
  const hf = conv.get("f16")!.data as Float32Array, hfRef = conv.get("f16_as_f32")!.data as Float32Array;
  assert.equal(bf.length, 100);
  for (let i = 0; i < 100; i++) {
    if (Number.isNaN(bfRef[i])) assert.ok(Number.isNaN(bf[i]));
    else assert.equal(bf[i], bfRef[i], `bf16 row ${i}`);
    if (Number.isNaN(hfRef[i])) assert.ok(Number.isNaN(hf[i]));
    else assert.equal(hf[i], hfRef[i], `f16 row ${i}`);
    const kb = (keep.get("bf16")!.data as Uint16Array)[i];
    const kh = (keep.get("f16")!.data as Uint16Array)[i];
    const rb = bf16BitsToF32(kb), rh = f16BitsToF32(kh);
    if (!Number.isNaN(rb)) assert.equal(rb, bf[i]);
    if (!Number.isNaN(rh)) assert.equal(rh, hf[i]);
  }
  assert.ok(Array.isArray(rows) || typeof rows === "object");
  // bf16 option: f32 tensor stored as bf16 (RNE), equal to the golden bf16 bits where not NaN
  const asBf = loadSafetensors(f, { names: ["f32", "bf16"], bf16: () => true });
  assert.equal(asBf.size, 2);
  assert.equal(asBf.get("f32")!.dtype, "bf16");
  const mine = asBf.get("f32")!.data as Uint16Array, gold = keep.get("bf16")!.data as Uint16Array;
  for (let i = 0; i < 100; i++) {
    if (!Number.isNaN(bf16BitsToF32(gold[i]))) assert.equal(mine[i], gold[i], `row ${i}`);
  }
});

test("names option: list (missing name → FormatError) and predicate", () => {
  const f = join(GOLDEN, "bert-tiny-random/model.safetensors");
  const one = loadSafetensors(f, { names: ["classifier.bias"] });
  assert.deepEqual([...one.keys()], ["classifier.bias"]);
  const pred = loadSafetensors(f, { names: (n) => n.startsWith("bert.pooler.") });
  assert.deepEqual([...pred.keys()].sort(), ["bert.pooler.dense.bias", "bert.pooler.dense.weight"]);
  assert.throws(() => loadSafetensors(f, { names: ["nope.weight"] }), (e: any) => e instanceof FormatError && /nope\.weight/.test(e.message));
});

test("integer/bool dtypes and non-contiguous tensors round trip", () => {
  const dir = tmp();
  try {
    const base = Tensor.from([[1, 2, 3], [4, 5, 6]]);
    const tensors = {
      "a.f32": base,
      "b.t": base.transpose(0, 1), // non-contiguous view
      "c.i64": Tensor.from([1, -2, 3], undefined, "i64"),
      "d.i32": Tensor.from([7, -8], undefined, "i32"),
      "e.u8": new Tensor(Uint8Array.from([0, 255, 3]), [3], "u8"),
      "f.bool": new Tensor(Uint8Array.from([1, 0]), [2], "bool"),
      "g.bf16": base.to("bf16"),
      "h.f16": base.to("f16"),
      "i.scalar": Tensor.scalar(3.5),
      "j.empty": Tensor.zeros([0, 4]),
    };
    const p = join(dir, "x.safetensors");
    saveSafetensors(p, tensors, { note: "ünïcode \"quoted\"\n", format: "pt" });
    const h = readSafetensorsHeader(p);
    assert.deepEqual(h.metadata, { format: "pt", note: "ünïcode \"quoted\"\n" });
    assert.equal(h.dataOffset % 8, 0);
    const back = loadSafetensors(p, { dtype: "keep" });
    assert.deepEqual(back.get("b.t")!.shape, [3, 2]);
    assert.deepEqual(Array.from(back.get("b.t")!.data as Float32Array), [1, 4, 2, 5, 3, 6]);
    assert.deepEqual(Array.from(back.get("c.i64")!.data as BigInt64Array), [1n, -2n, 3n]);
    assert.equal(back.get("d.i32")!.dtype, "i32");
    assert.deepEqual(Array.from(back.get("e.u8")!.data as Uint8Array), [0, 255, 3]);
    assert.equal(back.get("f.bool")!.dtype, "bool");
    assert.equal(back.get("g.bf16")!.dtype, "bf16");
    assert.equal(back.get("h.f16")!.dtype, "f16");
    assert.deepEqual(back.get("i.scalar")!.shape, []);
    assert.equal(back.get("i.scalar")!.item(), 3.5);
    assert.deepEqual(back.get("j.empty")!.shape, [0, 4]);
    // data order: I64 > F32 > I32 > BF16 > F16 > U8 > BOOL (Rust writer), names within a dtype
    const order = [...h.tensors.entries()].sort((a, b) => a[1].begin - b[1].begin || a[1].end - b[1].end).map(([k]) => k);
    assert.equal(order[0], "c.i64");
    assert.deepEqual(order.slice(-2), ["e.u8", "f.bool"]);
    // no metadata
    saveSafetensors(p, { x: base }, null);
    assert.equal(readSafetensorsHeader(p).metadata, null);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("unaligned data offsets are read correctly", () => {
  const dir = tmp();
  try {
    // header length 3 mod 8 is not padded: data starts at an odd offset
    const vals = Float32Array.from([1.5, -2.25, 3e-7]);
    let json = JSON.stringify({ w: { dtype: "F32", shape: [3], data_offsets: [0, 12] } });
    while (json.length % 4 !== 1) json += " ";
    const hdr = new TextEncoder().encode(json);
    assert.notEqual((8 + hdr.length) % 4, 0);
    const buf = Buffer.alloc(8 + hdr.length + 12);
    buf.writeBigUInt64LE(BigInt(hdr.length), 0);
    buf.set(hdr, 8);
    Buffer.from(vals.buffer).copy(buf, 8 + hdr.length);
    const p = join(dir, "u.safetensors");
    writeFileSync(p, buf);
    assert.deepEqual(Array.from(loadSafetensors(p).get("w")!.data as Float32Array), Array.from(vals));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

// ------------------------------------------------------------------ malformed files

function build(header: string | object, dataLen: number, lenOverride?: bigint): Buffer {
  const text = typeof header === "string" ? header : JSON.stringify(header);
  const hdr = Buffer.from(text, "utf8");
  const buf = Buffer.alloc(8 + hdr.length + dataLen);
  buf.writeBigUInt64LE(lenOverride ?? BigInt(hdr.length), 0);
  hdr.copy(buf, 8);
  return buf;
}

function expectFormatError(dir: string, name: string, bytes: Uint8Array, pattern?: RegExp): void {
  const p = join(dir, name);
  writeFileSync(p, bytes);
  assert.throws(() => {
    readSafetensorsHeader(p);
    loadSafetensors(p);
  }, (e: any) => {
    assert.ok(e instanceof FormatError, `${name}: expected FormatError, got ${e?.constructor?.name}: ${e?.message}`);
    assert.ok(e.message.includes(p), `${name}: message should name the file: ${e.message}`);
    if (pattern) assert.match(e.message, pattern, name);
    return true;
  }, name);
}

test("malformed headers give FormatError naming file and field", () => {
  const dir = tmp();
  try {
    const ok = { a: { dtype: "F32", shape: [2], data_offsets: [0, 8] }, b: { dtype: "F32", shape: [1], data_offsets: [8, 12] } };
    // sanity: the good one loads
    writeFileSync(join(dir, "good.safetensors"), build(ok, 12));
    assert.equal(loadSafetensors(join(dir, "good.safetensors")).size, 2);

    expectFormatError(dir, "short", Buffer.from([1, 2, 3]), /at least 8/);
    assert.throws(() => loadSafetensors(dir), FormatError);
    assert.throws(() => loadSafetensors(join(dir, "missing.safetensors")), (e: any) => e instanceof FormatError && /not found/.test(e.message));
    expectFormatError(dir, "huge-len", build(ok, 12, 1n << 62n), /header length/);
    expectFormatError(dir, "negative-len", build(ok, 12, 0xffffffffffffffffn), /header length/);
    expectFormatError(dir, "len-past-end", build(ok, 12, 5000n), /past the end/);
    expectFormatError(dir, "not-json", build("{\"a\": nope}", 0), /not valid JSON/);
    expectFormatError(dir, "array", build("[1,2]", 0), /JSON object/);
    expectFormatError(dir, "bad-utf8", Buffer.concat([Buffer.from([4, 0, 0, 0, 0, 0, 0, 0]), Buffer.from([0x7b, 0xff, 0xfe, 0x7d])]), /UTF-8/);
    expectFormatError(dir, "dtype", build({ a: { dtype: "F33", shape: [1], data_offsets: [0, 4] } }, 4), /'a'.*dtype "F33"/);
    expectFormatError(dir, "shape-neg", build({ a: { dtype: "F32", shape: [-1], data_offsets: [0, 4] } }, 4), /'a'.*shape/);
    expectFormatError(dir, "shape-float", build({ a: { dtype: "F32", shape: [1.5], data_offsets: [0, 4] } }, 4), /shape/);
    expectFormatError(dir, "offsets-type", build({ a: { dtype: "F32", shape: [1], data_offsets: "0,4" } }, 4), /data_offsets/);
    expectFormatError(dir, "size-mismatch", build({ a: { dtype: "F32", shape: [2], data_offsets: [0, 4] } }, 4), /'a'.*needs 8 bytes.*span 4/);
    expectFormatError(dir, "overlap", build({ a: { dtype: "F32", shape: [2], data_offsets: [0, 8] }, b: { dtype: "F32", shape: [2], data_offsets: [4, 12] } }, 12), /overlaps/);
    expectFormatError(dir, "gap", build({ a: { dtype: "F32", shape: [1], data_offsets: [0, 4] }, b: { dtype: "F32", shape: [1], data_offsets: [8, 12] } }, 12), /gap/);
    expectFormatError(dir, "trailing-data", build(ok, 16), /cover 12 bytes.*16/);
    expectFormatError(dir, "past-data", build(ok, 8), /exceed/);
    expectFormatError(dir, "duplicate", build(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`, 8), /duplicate key "a"/);
    expectFormatError(dir, "metadata-nonstring", build({ __metadata__: { format: 1 }, ...ok }, 12), /__metadata__/);
    expectFormatError(dir, "metadata-array", build({ __metadata__: ["x"], ...ok }, 12), /__metadata__/);
    expectFormatError(dir, "deep", build("[".repeat(100000) + "]".repeat(100000), 0), /not valid JSON/);
    expectFormatError(dir, "overflow-shape", build({ a: { dtype: "F32", shape: [2 ** 40, 2 ** 40], data_offsets: [0, 4] } }, 4), /needs/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("fuzz: truncations at every 1/50 of a file and random header byte flips never crash", () => {
  const dir = tmp();
  try {
    const src = readFileSync(join(GOLDEN, "bert-lora/adapter/adapter_model.safetensors"));
    const p = join(dir, "t.safetensors");
    for (let k = 0; k < 50; k++) {
      const cut = Math.floor((src.length * k) / 50);
      writeFileSync(p, src.subarray(0, cut));
      assert.throws(() => loadSafetensors(p), (e: any) => e instanceof FormatError && e.message.includes(p), `truncated at ${cut}`);
    }
    // deterministic LCG so failures are reproducible
    let s = 12345;
    const rnd = () => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 2 ** 32);
    const hlen = Number(src.readBigUInt64LE(0));
    let formatErrors = 0, loaded = 0;
    for (let k = 0; k < 400; k++) {
      const b = Buffer.from(src);
      const flips = 1 + Math.floor(rnd() * 3);
      for (let j = 0; j < flips; j++) {
        const pos = Math.floor(rnd() * (8 + hlen));
        b[pos] = Math.floor(rnd() * 256);
      }
      writeFileSync(p, b);
      try {
        const t = loadSafetensors(p);
        // a flip may still leave a valid file (e.g. inside a name or a space): then it must be consistent
        const h = readSafetensorsHeader(p);
        assert.equal(t.size, h.tensors.size);
        loaded++;
      } catch (e) {
        assert.ok(e instanceof FormatError, `flip ${k}: ${(e as Error)?.constructor?.name}: ${(e as Error).message}`);
        formatErrors++;
      }
    }
    assert.ok(formatErrors > 200, `${formatErrors} errors, ${loaded} loaded`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("sharded index round trip and missing shard error", () => {
  const dir = tmp();
  try {
    const all = loadSafetensors(join(GOLDEN, "bert-tiny-random/model.safetensors"));
    const names = [...all.keys()].sort();
    const shardA = new Map(names.slice(0, 20).map((n) => [n, all.get(n)!]));
    const shardB = new Map(names.slice(20).map((n) => [n, all.get(n)!]));
    const fa = "model-00001-of-00002.safetensors", fb = "model-00002-of-00002.safetensors";
    saveSafetensors(join(dir, fa), shardA);
    saveSafetensors(join(dir, fb), shardB);
    const weight_map: Record<string, string> = {};
    for (const n of shardA.keys()) weight_map[n] = fa;
    for (const n of shardB.keys()) weight_map[n] = fb;
    writeFileSync(join(dir, "model.safetensors.index.json"), JSON.stringify({ metadata: { total_size: 1 }, weight_map }));
    const merged = loadSafetensorsDir(dir);
    assert.equal(merged.size, all.size);
    for (const [k, v] of all) assert.deepEqual(merged.get(k)!.data, v.data, k);
    const some = loadSafetensorsDir(dir, { names: [names[0], names[30]] });
    assert.deepEqual([...some.keys()].sort(), [names[0], names[30]].sort());
    rmSync(join(dir, fb));
    assert.throws(() => loadSafetensorsDir(dir), (e: any) => e instanceof FormatError && e.message.includes(fb));
    // single-file dir
    const single = join(dir, "single");
    mkdirSync(single);
    copyFileSync(join(GOLDEN, "bert-tiny-random/model.safetensors"), join(single, "model.safetensors"));
    assert.equal(loadSafetensorsDir(single).size, 41);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
