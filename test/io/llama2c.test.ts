import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { convertLlama2c, hfConfigFromLlama2c, Llama2cTokenizer, permuteRope, readLlama2c, readLlama2cHeader } from "../../src/io/llama2c.js";
import { loadSafetensors, readSafetensorsHeader } from "../../src/io/safetensors.js";
import { AutoTokenizer } from "../../src/io/tokenizer.js";
import { FormatError } from "../../src/tensor/errors.js";

const BIN = "/work/shared/fixtures/models/stories260K.bin";
const TOK = "/work/shared/fixtures/models/tok512.bin";

function tmp(): string {
  return mkdtempSync(join(tmpdir(), "peft-ts-l2c-"));
}

test("stories260K.bin: header, tensor names and shapes, raw values in llama2.c order", () => {
  const raw = readFileSync(BIN);
  const h = Array.from({ length: 7 }, (_, i) => raw.readInt32LE(4 * i));
  const { config, tensors } = readLlama2c(BIN);
  assert.deepEqual(
    [config.dim, config.hiddenDim, config.nLayers, config.nHeads, config.nKvHeads, config.vocabSize, config.seqLen],
    [h[0], h[1], h[2], h[3], h[4], Math.abs(h[5]), h[6]],
  );
  assert.equal(config.sharedClassifier, h[5] > 0);
  const kv = (config.dim * config.nKvHeads) / config.nHeads;
  assert.deepEqual(tensors.get("model.embed_tokens.weight")!.shape, [config.vocabSize, config.dim]);
  assert.deepEqual(tensors.get("model.layers.0.self_attn.k_proj.weight")!.shape, [kv, config.dim]);
  assert.deepEqual(tensors.get(`model.layers.${config.nLayers - 1}.mlp.down_proj.weight`)!.shape, [config.dim, config.hiddenDim]);
  assert.deepEqual(tensors.get("model.norm.weight")!.shape, [config.dim]);
  assert.equal(tensors.has("lm_head.weight"), !config.sharedClassifier);
  assert.equal(tensors.size, 2 + 9 * config.nLayers + (config.sharedClassifier ? 0 : 1));
  // token embedding starts right after the header; rms_att of layer 0 right after it
  const emb = tensors.get("model.embed_tokens.weight")!.data as Float32Array;
  for (const i of [0, 1, emb.length - 1]) assert.equal(emb[i], raw.readFloatLE(28 + 4 * i));
  const rms = tensors.get("model.layers.0.input_layernorm.weight")!.data as Float32Array;
  assert.equal(rms[0], raw.readFloatLE(28 + 4 * emb.length));
  // v is not permuted: layer 0 wv starts after tok, rms_att (L*dim), wq (L*dim*dim), wk (L*kv*dim)
  const L = config.nLayers, d = config.dim;
  const wvOff = 28 + 4 * (emb.length + L * d + L * d * d + L * kv * d);
  const wv = tensors.get("model.layers.0.self_attn.v_proj.weight")!.data as Float32Array;
  assert.equal(wv[0], raw.readFloatLE(wvOff));
  assert.equal(wv[kv * d - 1], raw.readFloatLE(wvOff + 4 * (kv * d - 1)));
  const cfg = hfConfigFromLlama2c(config);
  assert.equal(cfg.model_type, "llama");
  assert.equal(cfg.tie_word_embeddings, config.sharedClassifier);
  assert.equal(cfg.num_key_value_heads, config.nKvHeads);
});

/** Interleaved RoPE (llama2.c) on a head vector. */
function ropeInterleaved(v: Float32Array, pos: number): Float32Array {
  const out = new Float32Array(v.length), hd = v.length;
  for (let i = 0; i < hd; i += 2) {
    const f = 1 / 10000 ** (i / hd), a = pos * f;
    out[i] = v[i] * Math.cos(a) - v[i + 1] * Math.sin(a);
    out[i + 1] = v[i] * Math.sin(a) + v[i + 1] * Math.cos(a);
  }
  return out;
}
/** rotate_half RoPE (HF Llama) on a head vector. */
function ropeHalf(v: Float32Array, pos: number): Float32Array {
  const out = new Float32Array(v.length), hd = v.length, h = hd / 2;
  for (let i = 0; i < h; i++) {
    const f = 1 / 10000 ** ((2 * i) / hd), a = pos * f;
    out[i] = v[i] * Math.cos(a) - v[i + h] * Math.sin(a);
    out[i + h] = v[i + h] * Math.cos(a) + v[i] * Math.sin(a);
  }
  return out;
}

test("q/k permutation: HF rotate-half attention scores equal llama2.c interleaved ones", () => {
  const { config, tensors } = readLlama2c(BIN);
  const hd = config.dim / config.nHeads;
  const kvDim = hd * config.nKvHeads;
  // recover the llama2.c (unpermuted) matrices from the file
  const raw = readFileSync(BIN);
  const L = config.nLayers, d = config.dim, V = config.vocabSize;
  const wqOff = 28 + 4 * (V * d + L * d);
  const wkOff = wqOff + 4 * L * d * d;
  const wqRaw = new Float32Array(d * d), wkRaw = new Float32Array(kvDim * d);
  for (let i = 0; i < wqRaw.length; i++) wqRaw[i] = raw.readFloatLE(wqOff + 4 * i);
  for (let i = 0; i < wkRaw.length; i++) wkRaw[i] = raw.readFloatLE(wkOff + 4 * i);
  const wqHf = tensors.get("model.layers.0.self_attn.q_proj.weight")!.data as Float32Array;
  const wkHf = tensors.get("model.layers.0.self_attn.k_proj.weight")!.data as Float32Array;
  assert.deepEqual(permuteRope(wqRaw, config.nHeads, d, d), wqHf);
  let s = 7;
  const rnd = () => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 2 ** 32) - 0.5;
  const x = Float32Array.from({ length: d }, rnd), y = Float32Array.from({ length: d }, rnd);
  const mv = (w: Float32Array, rows: number, v: Float32Array) => Float32Array.from({ length: rows }, (_, r) => {
    let acc = 0;
    for (let c = 0; c < d; c++) acc += w[r * d + c] * v[c];
    return acc;
  });
  const qa = mv(wqRaw, d, x), ka = mv(wkRaw, kvDim, y), qb = mv(wqHf, d, x), kb = mv(wkHf, kvDim, y);
  const group = config.nHeads / config.nKvHeads;
  for (let h = 0; h < config.nHeads; h++) {
    const kh = Math.floor(h / group);
    for (const [pq, pk] of [[3, 1], [10, 10], [0, 5]]) {
      const a1 = ropeInterleaved(qa.subarray(h * hd, (h + 1) * hd), pq), b1 = ropeInterleaved(ka.subarray(kh * hd, (kh + 1) * hd), pk);
      const a2 = ropeHalf(qb.subarray(h * hd, (h + 1) * hd), pq), b2 = ropeHalf(kb.subarray(kh * hd, (kh + 1) * hd), pk);
      let s1 = 0, s2 = 0;
      for (let i = 0; i < hd; i++) { s1 += a1[i] * b1[i]; s2 += a2[i] * b2[i]; }
      assert.ok(Math.abs(s1 - s2) <= 1e-4 * (1 + Math.abs(s1)), `head ${h}: ${s1} vs ${s2}`);
    }
  }
});

test("truncated or inconsistent checkpoints → FormatError with file, expected and actual sizes", () => {
  const d = tmp();
  try {
    const raw = readFileSync(BIN);
    const { expectedBytes } = readLlama2cHeader(BIN);
    for (const cut of [0, 10, 28, 1000, raw.length - 4]) {
      const p = join(d, `cut${cut}.bin`);
      writeFileSync(p, raw.subarray(0, cut));
      assert.throws(() => readLlama2c(p), (e: any) => e instanceof FormatError && e.message.includes(p) && (cut < 28 || (e.message.includes(String(expectedBytes)) && e.message.includes(String(cut)))), `cut ${cut}`);
    }
    const bad = Buffer.from(raw);
    bad.writeInt32LE(-3, 0);
    writeFileSync(join(d, "neg.bin"), bad);
    assert.throws(() => readLlama2c(join(d, "neg.bin")), (e: any) => e instanceof FormatError && /dim = -3/.test(e.message));
    const unshared = Buffer.from(raw);
    unshared.writeInt32LE(-unshared.readInt32LE(20), 20); // claims an unshared classifier: size no longer matches
    writeFileSync(join(d, "uns.bin"), unshared);
    assert.throws(() => readLlama2c(join(d, "uns.bin")), FormatError);
  } finally {
    rmSync(d, { recursive: true, force: true });
  }
});

test("tok512.bin: encode/decode round trip of ASCII text; byte fallback; truncated file", () => {
  const tok = Llama2cTokenizer.fromFile(TOK, 512);
  assert.equal(tok.vocabSize, 512);
  const texts = ["Once upon a time, there was a little girl named Lily.", "She liked to play outside!", "x", "Tom said: \"Hi 123\"", ""];
  for (const t of texts) {
    const ids = tok.encode(t, { bos: true, eos: true });
    assert.equal(ids[0], 1);
    assert.equal(ids[ids.length - 1], 2);
    assert.ok(ids.every((i) => i >= 0 && i < 512));
    assert.equal(tok.decode(ids), t);
    // merges actually happened: fewer tokens than bytes for longer texts
    if (t.length > 20) assert.ok(ids.length < t.length);
  }
  // run.c merges greedily by score: no adjacent pair of the result is itself a vocab entry
  const ids = tok.encode("Once upon a time", { bos: false });
  const pieces = ids.map((i) => Buffer.from(tok.pieces[i]).toString("latin1"));
  const vocab = new Set(tok.pieces.map((p) => Buffer.from(p).toString("latin1")));
  for (let i = 0; i + 1 < pieces.length; i++) assert.ok(!vocab.has(pieces[i] + pieces[i + 1]), `${pieces[i]}+${pieces[i + 1]} should have merged`);
  // non-ASCII goes through <0xXX> byte tokens and still decodes
  const u = "café ☃";
  assert.equal(tok.decode(tok.encode(u)), u);
  const d = tmp();
  try {
    const raw = readFileSync(TOK);
    const p = join(d, "t.bin");
    writeFileSync(p, raw.subarray(0, raw.length - 3));
    assert.throws(() => Llama2cTokenizer.fromFile(p, 512), (e: any) => e instanceof FormatError && e.message.includes(p) && e.message.includes(String(raw.length - 3)));
    writeFileSync(p, raw.subarray(0, 2));
    assert.throws(() => Llama2cTokenizer.fromFile(p), FormatError);
  } finally {
    rmSync(d, { recursive: true, force: true });
  }
});

test("convertLlama2c writes an HF folder: config, safetensors, tokenizer agreeing with run.c encode", async () => {
  const d = tmp();
  try {
    const out = join(d, "stories260K-hf");
    await convertLlama2c(BIN, out, TOK);
    assert.deepEqual(readdirSync(out).sort(), ["config.json", "model.safetensors", "special_tokens_map.json", "tokenizer.json", "tokenizer_config.json"]);
    assert.deepEqual(readdirSync(d), ["stories260K-hf"]);
    const cfg = JSON.parse(readFileSync(join(out, "config.json"), "utf8"));
    const { config, tensors } = readLlama2c(BIN);
    assert.deepEqual(cfg, JSON.parse(JSON.stringify(hfConfigFromLlama2c(config))));
    assert.deepEqual(readSafetensorsHeader(join(out, "model.safetensors")).metadata, { format: "pt" });
    const back = loadSafetensors(join(out, "model.safetensors"));
    assert.equal(back.size, tensors.size);
    for (const [k, v] of tensors) assert.deepEqual(back.get(k)!.data, v.data, k);
    const hf = await AutoTokenizer.fromPretrained(out);
    const l2c = Llama2cTokenizer.fromFile(TOK);
    for (const t of ["Once upon a time, there was a little girl named Lily.", "She liked to play outside!", "Tom said hi"]) {
      assert.deepEqual(hf.encode(t), l2c.encode(t, { bos: true }), t);
      assert.equal(hf.decode(hf.encode(t), { skipSpecialTokens: true }), t);
    }
    const direct = await AutoTokenizer.fromPretrained(TOK);
    assert.deepEqual(direct.encode("Tom said hi"), l2c.encode("Tom said hi"));
    assert.equal(hf.bosTokenId, 1);
    assert.equal(hf.eosTokenId, 2);
    assert.ok(!existsSync(join(d, "partial")));
  } finally {
    rmSync(d, { recursive: true, force: true });
  }
});
