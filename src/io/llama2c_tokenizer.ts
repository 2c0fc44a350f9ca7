// The llama2.c tokenizer: reading tokenizer.bin, run.c-style encode/decode, and an HF tokenizer.json equivalent.
//
// Tokenizer (tokenizer.bin): int32 max_token_length, then per token: float32 score, int32 byte
// length, the bytes. Encoding is sentencepiece-style BPE as in run.c: a dummy-prefix space,
// characters looked up in the vocab (byte-fallback tokens <0xXX> = id byte+3 otherwise), then
// repeatedly merge the adjacent pair whose concatenation is in the vocab with the best score.

import { getFiles } from "../platform/files.js";
import { ConfigError, FormatError } from "../tensor/errors.js";
import { requireReadableFile } from "./fs.js";

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
    requireReadableFile(path, "a llama2.c tokenizer");
    const buf = getFiles().readFile(path);
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
