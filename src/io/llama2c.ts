// llama2.c checkpoints and tokenizers (https://github.com/karpathy/llama2.c, "version 0" format).
//
// Checkpoint: 7 little-endian int32 (dim, hidden_dim, n_layers, n_heads, n_kv_heads,
// vocab_size, seq_len; a negative vocab_size means the classifier is not shared with the token
// embedding), then float32 arrays in this order: token_embedding [vocab, dim], rms_att [L, dim],
// wq [L, dim, dim], wk [L, kv_dim, dim], wv [L, kv_dim, dim], wo [L, dim, dim], rms_ffn [L, dim],
// w1 [L, hidden, dim], w2 [L, dim, hidden], w3 [L, hidden, dim], rms_final [dim],
// freq_cis_real [seq_len, head_size/2], freq_cis_imag (same; both skipped), wcls [vocab, dim]
// when unshared. Matrices are [out, in] like torch.nn.Linear weights.
//
// llama2.c applies RoPE to interleaved pairs (x0,x1),(x2,x3)… while HF Llama rotates halves
// (x_i, x_{i+d/2}). Meta → HF conversion permutes the rows of wq/wk inside each head so the two
// agree: row (h, i, j) of the interleaved layout [heads, d/2, 2] becomes row (h, j, i) of
// [heads, 2, d/2]. The same permutation is applied here.
//
// Tokenizer (tokenizer.bin): int32 max_token_length, then per token: float32 score, int32 byte
// length, the bytes. Encoding is sentencepiece-style BPE as in run.c: a dummy-prefix space,
// characters looked up in the vocab (byte-fallback tokens <0xXX> = id byte+3 otherwise), then
// repeatedly merge the adjacent pair whose concatenation is in the vocab with the best score.

import { closeSync, fstatSync, openSync, readFileSync, readSync } from "node:fs";
import { join } from "node:path";
import { Tensor } from "../tensor/tensor.js";
import { ConfigError, FormatError } from "../tensor/errors.js";
import { atomicWriteDir, atomicWriteFile } from "./fs.js";
import { saveSafetensors } from "./safetensors.js";

export interface Llama2cConfig {
  dim: number;
  hiddenDim: number;
  nLayers: number;
  nHeads: number;
  nKvHeads: number;
  vocabSize: number;
  seqLen: number;
  sharedClassifier: boolean;
}

export interface Llama2cCheckpoint {
  config: Llama2cConfig;
  /** HF Llama names; lm_head.weight only when the classifier is not shared (tied otherwise). */
  tensors: Map<string, Tensor>;
}

const HEADER_BYTES = 28;

function readAll(fd: number, buf: Uint8Array, pos: number): number {
  let done = 0;
  while (done < buf.length) {
    const n = readSync(fd, buf, done, Math.min(buf.length - done, 1 << 30), pos + done);
    if (n <= 0) break;
    done += n;
  }
  return done;
}

/** Reads and validates the 7-int header; returns the config and the expected file size. */
export function readLlama2cHeader(path: string): { config: Llama2cConfig; expectedBytes: number; fileBytes: number } {
  const fd = openSync(path, "r");
  try {
    const size = fstatSync(fd).size;
    if (size < HEADER_BYTES) throw new FormatError(`${path}: llama2.c checkpoint has ${size} bytes; expected at least ${HEADER_BYTES} for the header`);
    const hb = new Uint8Array(HEADER_BYTES);
    readAll(fd, hb, 0);
    const dv = new DataView(hb.buffer);
    const h = Array.from({ length: 7 }, (_, i) => dv.getInt32(4 * i, true));
    const [dim, hiddenDim, nLayers, nHeads, nKvHeads, vocabRaw, seqLen] = h;
    const names = ["dim", "hidden_dim", "n_layers", "n_heads", "n_kv_heads", "vocab_size", "seq_len"];
    h.forEach((v, i) => {
      if (i !== 5 && v <= 0) throw new FormatError(`${path}: header field ${names[i]} = ${v}; expected a positive integer`);
    });
    if (vocabRaw === 0) throw new FormatError(`${path}: header field vocab_size = 0`);
    if (dim % nHeads !== 0) throw new FormatError(`${path}: dim ${dim} is not divisible by n_heads ${nHeads}`);
    if (nHeads % nKvHeads !== 0) throw new FormatError(`${path}: n_heads ${nHeads} is not divisible by n_kv_heads ${nKvHeads}`);
    const headSize = dim / nHeads;
    if (headSize % 2 !== 0) throw new FormatError(`${path}: head size ${headSize} must be even for RoPE`);
    const config: Llama2cConfig = {
      dim, hiddenDim, nLayers, nHeads, nKvHeads, vocabSize: Math.abs(vocabRaw), seqLen, sharedClassifier: vocabRaw > 0,
    };
    const floats = layout(config).reduce((a, e) => a + e.count, 0);
    const expectedBytes = HEADER_BYTES + 4 * floats;
    if (!Number.isSafeInteger(expectedBytes)) throw new FormatError(`${path}: header describes an impossibly large model (${h.join(", ")})`);
    if (size !== expectedBytes) {
      throw new FormatError(`${path}: llama2.c checkpoint has ${size} bytes but its header (dim ${dim}, hidden ${hiddenDim}, layers ${nLayers}, heads ${nHeads}/${nKvHeads}, vocab ${vocabRaw}, seq ${seqLen}) needs ${expectedBytes}${size < expectedBytes ? " (truncated?)" : ""}`);
    }
    return { config, expectedBytes, fileBytes: size };
  } finally {
    closeSync(fd);
  }
}

interface Block {
  key: string;
  count: number;
  /** per-layer shape (or whole shape when layers = 0) */
  shape: number[];
  layers: number;
}

function layout(c: Llama2cConfig): Block[] {
  const hs = c.dim / c.nHeads, kv = (c.dim * c.nKvHeads) / c.nHeads, L = c.nLayers;
  const b = (key: string, shape: number[], layers = 0): Block => ({ key, shape, layers, count: shape.reduce((a, x) => a * x, 1) * Math.max(1, layers) });
  const blocks = [
    b("tok", [c.vocabSize, c.dim]),
    b("rms_att", [c.dim], L),
    b("wq", [c.dim, c.dim], L),
    b("wk", [kv, c.dim], L),
    b("wv", [kv, c.dim], L),
    b("wo", [c.dim, c.dim], L),
    b("rms_ffn", [c.dim], L),
    b("w1", [c.hiddenDim, c.dim], L),
    b("w2", [c.dim, c.hiddenDim], L),
    b("w3", [c.hiddenDim, c.dim], L),
    b("rms_final", [c.dim]),
    b("freq_real", [c.seqLen, hs / 2]),
    b("freq_imag", [c.seqLen, hs / 2]),
  ];
  if (!c.sharedClassifier) blocks.push(b("wcls", [c.vocabSize, c.dim]));
  return blocks;
}

const HF_NAME: Record<string, string> = {
  rms_att: "input_layernorm.weight",
  wq: "self_attn.q_proj.weight",
  wk: "self_attn.k_proj.weight",
  wv: "self_attn.v_proj.weight",
  wo: "self_attn.o_proj.weight",
  rms_ffn: "post_attention_layernorm.weight",
  w1: "mlp.gate_proj.weight",
  w2: "mlp.down_proj.weight",
  w3: "mlp.up_proj.weight",
};

/** Interleaved-pair RoPE rows → rotate-half rows, per head (HF's convert script `permute`). */
export function permuteRope(w: Float32Array, nHeads: number, rows: number, cols: number): Float32Array {
  const hd = rows / nHeads, half = hd / 2;
  const out = new Float32Array(w.length);
  for (let h = 0; h < nHeads; h++) {
    for (let i = 0; i < half; i++) {
      for (let j = 0; j < 2; j++) {
        const src = (h * hd + i * 2 + j) * cols;
        const dst = (h * hd + j * half + i) * cols;
        out.set(w.subarray(src, src + cols), dst);
      }
    }
  }
  return out;
}

/** Reads a llama2.c checkpoint into HF Llama-named f32 tensors. */
export function readLlama2c(path: string): Llama2cCheckpoint {
  const { config: c } = readLlama2cHeader(path);
  const tensors = new Map<string, Tensor>();
  const fd = openSync(path, "r");
  try {
    let pos = HEADER_BYTES;
    for (const blk of layout(c)) {
      const bytes = blk.count * 4;
      if (blk.key === "freq_real" || blk.key === "freq_imag") {
        pos += bytes;
        continue;
      }
      const arr = new Float32Array(blk.count);
      const got = readAll(fd, new Uint8Array(arr.buffer), pos);
      if (got !== bytes) throw new FormatError(`${path}: unexpected end of file in '${blk.key}' at offset ${pos}: expected ${bytes} bytes, got ${got}`);
      pos += bytes;
      if (blk.layers === 0) {
        const name = blk.key === "tok" ? "model.embed_tokens.weight" : blk.key === "rms_final" ? "model.norm.weight" : "lm_head.weight";
        tensors.set(name, new Tensor(arr, blk.shape, "f32"));
        continue;
      }
      const per = blk.count / blk.layers;
      for (let l = 0; l < blk.layers; l++) {
        let w: Float32Array = arr.slice(l * per, (l + 1) * per);
        if (blk.key === "wq") w = permuteRope(w, c.nHeads, blk.shape[0], blk.shape[1]);
        if (blk.key === "wk") w = permuteRope(w, c.nKvHeads, blk.shape[0], blk.shape[1]);
        tensors.set(`model.layers.${l}.${HF_NAME[blk.key]}`, new Tensor(w, blk.shape, "f32"));
      }
    }
  } finally {
    closeSync(fd);
  }
  for (const [k, t] of tensors) t.name = k;
  return { config: c, tensors };
}

/** Alias of readLlama2c. */
export const loadLlama2c = readLlama2c;

/** A plain HF config.json object for the checkpoint (LlamaForCausalLM). */
export function hfConfigFromLlama2c(cfg: Llama2cConfig): Record<string, unknown> {
  return {
    architectures: ["LlamaForCausalLM"],
    model_type: "llama",
    hidden_size: cfg.dim,
    intermediate_size: cfg.hiddenDim,
    num_hidden_layers: cfg.nLayers,
    num_attention_heads: cfg.nHeads,
    num_key_value_heads: cfg.nKvHeads,
    head_dim: cfg.dim / cfg.nHeads,
    vocab_size: cfg.vocabSize,
    max_position_embeddings: cfg.seqLen,
    hidden_act: "silu",
    rms_norm_eps: 1e-5,
    rope_theta: 10000.0,
    rope_parameters: { rope_theta: 10000.0, rope_type: "default" },
    tie_word_embeddings: cfg.sharedClassifier,
    attention_bias: false,
    mlp_bias: false,
    initializer_range: 0.02,
    bos_token_id: 1,
    eos_token_id: 2,
    torch_dtype: "float32",
  };
}

// ------------------------------------------------------------------ tokenizer

/** The llama2.c tokenizer (tokenizer.bin): sentencepiece-style BPE by merge scores. */
export class Llama2cTokenizer {
  readonly maxTokenLength: number;
  /** Token pieces as raw bytes. */
  readonly pieces: Uint8Array[];
  readonly scores: Float32Array;
  readonly bosId = 1;
  readonly eosId = 2;
  private readonly lookup = new Map<string, number>();

  constructor(pieces: Uint8Array[], scores: Float32Array, maxTokenLength: number) {
    this.pieces = pieces;
    this.scores = scores;
    this.maxTokenLength = maxTokenLength;
    pieces.forEach((p, i) => {
      const k = latin1(p);
      if (!this.lookup.has(k)) this.lookup.set(k, i);
    });
  }

  /** Reads tokenizer.bin; `vocabSize` (from the checkpoint) is checked when given, else tokens are read to the end. */
  static fromFile(path: string, vocabSize?: number): Llama2cTokenizer {
    const buf = readFileSync(path);
    if (buf.length < 4) throw new FormatError(`${path}: llama2.c tokenizer has ${buf.length} bytes; expected at least 4 (max_token_length)`);
    const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    const maxLen = dv.getInt32(0, true);
    if (maxLen <= 0 || maxLen > 1 << 20) throw new FormatError(`${path}: max_token_length ${maxLen} is not a plausible positive length`);
    const pieces: Uint8Array[] = [];
    const scores: number[] = [];
    let pos = 4;
    while (pos < buf.length && (vocabSize === undefined || pieces.length < vocabSize)) {
      const i = pieces.length;
      if (pos + 8 > buf.length) throw new FormatError(`${path}: token ${i} header needs 8 bytes at offset ${pos}, but the file has ${buf.length} bytes (truncated?)`);
      const score = dv.getFloat32(pos, true);
      const len = dv.getInt32(pos + 4, true);
      if (len < 0 || len > maxLen) throw new FormatError(`${path}: token ${i} has length ${len}; expected 0..${maxLen} (max_token_length)`);
      if (pos + 8 + len > buf.length) {
        throw new FormatError(`${path}: token ${i} needs ${len} bytes at offset ${pos + 8}, but the file has ${buf.length} bytes: expected at least ${pos + 8 + len} (truncated?)`);
      }
      scores.push(score);
      pieces.push(new Uint8Array(buf.subarray(pos + 8, pos + 8 + len)));
      pos += 8 + len;
    }
    if (vocabSize !== undefined && pieces.length !== vocabSize) {
      throw new FormatError(`${path}: holds ${pieces.length} tokens; expected ${vocabSize} (the checkpoint's vocab_size)`);
    }
    if (vocabSize !== undefined && pos !== buf.length) {
      throw new FormatError(`${path}: ${buf.length - pos} unexpected bytes after the ${vocabSize} tokens`);
    }
    if (pieces.length < 259) throw new FormatError(`${path}: only ${pieces.length} tokens; expected at least 259 (<unk>, <s>, </s> and 256 byte tokens)`);
    return new Llama2cTokenizer(pieces, Float32Array.from(scores), maxLen);
  }

  get vocabSize(): number {
    return this.pieces.length;
  }

  /** run.c's encode: dummy prefix, code points (else byte fallback), best-score merges. */
  encode(text: string, opts: { bos?: boolean; eos?: boolean } = {}): number[] {
    const ids: number[] = [];
    if (opts.bos ?? true) ids.push(this.bosId);
    if (text.length > 0) {
      const sp = this.lookup.get(" ");
      if (sp !== undefined) ids.push(sp);
    }
    const bytes = new TextEncoder().encode(text);
    for (let i = 0; i < bytes.length;) {
      const b = bytes[i];
      const n = b < 0x80 ? 1 : b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : b >= 0xc0 ? 2 : 1;
      const cp = bytes.subarray(i, Math.min(bytes.length, i + n));
      const id = this.lookup.get(latin1(cp));
      if (id !== undefined) ids.push(id);
      else for (const x of cp) ids.push(x + 3); // byte-fallback tokens <0x00>.. start at id 3
      i += n;
    }
    const start = opts.bos ?? true ? 1 : 0;
    for (;;) {
      let best = -Infinity, bestId = -1, bestIdx = -1;
      for (let i = start; i + 1 < ids.length; i++) {
        const id = this.lookup.get(latin1(this.pieces[ids[i]]) + latin1(this.pieces[ids[i + 1]]));
        if (id !== undefined && this.scores[id] > best) {
          best = this.scores[id];
          bestId = id;
          bestIdx = i;
        }
      }
      if (bestIdx < 0) break;
      ids.splice(bestIdx, 2, bestId);
    }
    if (opts.eos) ids.push(this.eosId);
    return ids;
  }

  /** The bytes of one token as run.c prints them (leading space dropped after BOS, <0xXX> → byte). */
  pieceBytes(prev: number, id: number): Uint8Array {
    if (id < 0 || id >= this.pieces.length) throw new ConfigError(`llama2.c tokenizer: id ${id} out of range 0..${this.pieces.length - 1}`);
    let p = this.pieces[id];
    if (prev === this.bosId && p[0] === 0x20) p = p.subarray(1);
    const m = /^<0x([0-9A-Fa-f]{2})>$/.exec(latin1(p));
    if (m) return Uint8Array.of(parseInt(m[1], 16));
    return p;
  }

  /** Decodes ids (BOS/EOS dropped) to text; `prev` is the token before ids[0] (default BOS). */
  decode(ids: number[], prev = this.bosId): string {
    const out: number[] = [];
    let last = prev;
    for (const id of ids) {
      if (id === this.bosId || id === this.eosId) {
        last = id;
        continue;
      }
      for (const b of this.pieceBytes(last, id)) out.push(b);
      last = id;
    }
    return new TextDecoder().decode(Uint8Array.from(out));
  }

  /**
   * An HF tokenizer.json equivalent (Llama-style: byte-fallback BPE with merges ranked by the
   * merged piece's score, "▁" for spaces, "<s> $A" template), so converted checkpoints load with
   * AutoTokenizer.
   */
  toTokenizerJson(): Record<string, unknown> {
    const dec = new TextDecoder("utf-8", { fatal: false });
    const specials = ["<unk>", "<s>", "</s>"];
    const strs = this.pieces.map((p, i) => (i < 3 ? specials[i] : dec.decode(p).replaceAll(" ", "▁")));
    const vocab: Record<string, number> = {};
    strs.forEach((s, i) => {
      if (!(s in vocab)) vocab[s] = i;
    });
    const merges: { a: string; b: string; score: number; id: number }[] = [];
    strs.forEach((s, id) => {
      if (id < 3 || /^<0x[0-9A-F]{2}>$/.test(s)) return;
      const cps = [...s];
      for (let k = 1; k < cps.length; k++) {
        const a = cps.slice(0, k).join(""), b = cps.slice(k).join("");
        if (a in vocab && b in vocab) merges.push({ a, b, score: this.scores[id], id });
      }
    });
    merges.sort((x, y) => y.score - x.score || x.id - y.id || vocab[x.a] - vocab[y.a]);
    const added = specials.map((content, id) => ({ id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true }));
    return {
      version: "1.0",
      truncation: null,
      padding: null,
      added_tokens: added,
      normalizer: { type: "Sequence", normalizers: [{ type: "Prepend", prepend: "▁" }, { type: "Replace", pattern: { String: " " }, content: "▁" }] },
      pre_tokenizer: null,
      post_processor: {
        type: "TemplateProcessing",
        single: [{ SpecialToken: { id: "<s>", type_id: 0 } }, { Sequence: { id: "A", type_id: 0 } }],
        pair: [{ SpecialToken: { id: "<s>", type_id: 0 } }, { Sequence: { id: "A", type_id: 0 } }, { SpecialToken: { id: "<s>", type_id: 1 } }, { Sequence: { id: "B", type_id: 1 } }],
        special_tokens: { "<s>": { id: "<s>", ids: [1], tokens: ["<s>"] } },
      },
      decoder: {
        type: "Sequence",
        decoders: [
          { type: "Replace", pattern: { String: "▁" }, content: " " },
          { type: "ByteFallback" },
          { type: "Fuse" },
          { type: "Strip", content: " ", start: 1, stop: 0 },
        ],
      },
      model: {
        type: "BPE", dropout: null, unk_token: "<unk>", continuing_subword_prefix: null, end_of_word_suffix: null,
        fuse_unk: true, byte_fallback: true, ignore_merges: false, vocab, merges: merges.map((m) => [m.a, m.b]),
      },
    };
  }
}

function latin1(b: Uint8Array): string {
  let s = "";
  for (let i = 0; i < b.length; i += 4096) s += String.fromCharCode(...b.subarray(i, i + 4096));
  return s;
}

/**
 * Converts a llama2.c checkpoint (and optionally its tokenizer.bin) into an HF model folder:
 * config.json, model.safetensors (+ tokenizer.json, tokenizer_config.json, special_tokens_map.json),
 * built atomically. Returns the output folder.
 */
export async function convertLlama2c(binPath: string, outDir: string, tokenizerBin?: string): Promise<string> {
  const { config, tensors } = readLlama2c(binPath);
  const tok = tokenizerBin ? Llama2cTokenizer.fromFile(tokenizerBin, config.vocabSize) : null;
  return atomicWriteDir(outDir, (tmp) => {
    atomicWriteFile(join(tmp, "config.json"), JSON.stringify(hfConfigFromLlama2c(config), null, 2) + "\n");
    saveSafetensors(join(tmp, "model.safetensors"), tensors, { format: "pt" });
    if (tok) {
      atomicWriteFile(join(tmp, "tokenizer.json"), JSON.stringify(tok.toTokenizerJson()) + "\n");
      const special = { bos_token: "<s>", eos_token: "</s>", unk_token: "<unk>" };
      atomicWriteFile(join(tmp, "tokenizer_config.json"), JSON.stringify({
        tokenizer_class: "LlamaTokenizerFast", ...special, pad_token: null, add_bos_token: true, add_eos_token: false,
        clean_up_tokenization_spaces: false, model_max_length: config.seqLen, legacy: true,
      }, null, 2) + "\n");
      atomicWriteFile(join(tmp, "special_tokens_map.json"), JSON.stringify(special, null, 2) + "\n");
    }
  });
}
