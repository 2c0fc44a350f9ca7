// llama2.c checkpoints ("version 0" format): the header, the weight layout, reading into HF Llama-named tensors.
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

import { getFiles, type ReadHandle } from "../platform/files.js";
import { Tensor } from "../tensor/tensor.js";
import { FormatError } from "../tensor/errors.js";
import { requireReadableFile } from "./fs.js";

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

function readAll(fd: ReadHandle, buf: Uint8Array, pos: number): number {
  let done = 0;
  while (done < buf.length) {
    const n = fd.read(buf, done, Math.min(buf.length - done, 1 << 30), pos + done);
    if (n <= 0) break;
    done += n;
  }
  return done;
}

/** Reads and validates the 7-int header; returns the config and the expected file size. */
export function readLlama2cHeader(path: string): { config: Llama2cConfig; expectedBytes: number; fileBytes: number } {
  requireReadableFile(path, "a llama2.c checkpoint");
  const fd = getFiles().openRead(path);
  try {
    const size = fd.size;
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
    fd.close();
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
  const fd = getFiles().openRead(path);
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
    fd.close();
  }
  for (const [k, t] of tensors) t.name = k;
  return { config: c, tensors };
}

/** Alias of readLlama2c. */
export const loadLlama2c = readLlama2c;
