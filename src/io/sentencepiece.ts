// A SentencePiece processor over a model file read by sentencepiece_model.ts: normalize
// (sentencepiece_normalizer.ts), then segment the normalized text with the model's algorithm —
//   unigram: Viterbi over all pieces that match at each position (float32 path scores, the first
//            best path kept on ties); a character no piece covers is an unknown node scored
//            min(normal scores) − 10, as unigram_model.cc;
//   bpe:     start from characters, repeatedly merge the adjacent pair whose joined string is a
//            piece with the highest score (the leftmost on ties), as bpe_model.cc;
// — and map pieces to ids (unknown → unk_id, or UTF-8 byte pieces with byte_fallback). Runs of
// unknown pieces are merged into one, as the sentencepiece library reports them. Decoding drops
// control pieces, writes unk_surface for unknown ones, turns "▁" back into spaces and removes the
// dummy-prefix space of the first piece. User-defined pieces are matched as ordinary pieces; unused
// pieces never match (bpe: an unused merge result is unknown).

import { ConfigError } from "../tensor/errors.js";
import { PIECE_TYPES, readSentencePieceModel, type SpmModel } from "./sentencepiece_model.js";
import { SentencePieceNormalizer, SPACE_SYMBOL } from "./sentencepiece_normalizer.js";

interface TrieNode {
  next: Map<number, TrieNode>;
  id: number;
}

export interface SpmEncoding {
  ids: number[];
  pieces: string[];
  /** [start, end) UTF-16 offsets of each piece in the input text. */
  offsets: [number, number][];
}

const UNK_PENALTY = 10;
// ignoreBOM: a U+FEFF in the text is a character, not a byte-order mark to drop
const UTF8 = new TextDecoder("utf-8", { ignoreBOM: true });
const ENC = new TextEncoder();

/** Code point boundaries (UTF-16 indices) of s, with s.length last. */
function charStarts(s: string): number[] {
  const out: number[] = [];
  for (let i = 0; i < s.length; i++) {
    out.push(i);
    if (s.codePointAt(i)! >= 0x10000) i++;
  }
  out.push(s.length);
  return out;
}

export class SentencePieceProcessor {
  readonly model: SpmModel;
  private readonly normalizer: SentencePieceNormalizer;
  /** Pieces text can match (NORMAL, USER_DEFINED) → id. */
  private readonly matchable = new Map<string, number>();
  private readonly byId: string[];
  private readonly byPiece = new Map<string, number>();
  /** The matchable pieces as a trie over UTF-16 units (unigram walks it from each position). */
  private readonly trie: TrieNode = { next: new Map(), id: -1 };
  private readonly minScore: number;
  private readonly byteIds = new Map<number, number>();

  constructor(model: SpmModel, what = "sentencepiece model") {
    this.model = model;
    this.normalizer = new SentencePieceNormalizer(model.normalizer, `${what}: normalizer_spec`);
    this.byId = model.pieces.map((p) => p.piece);
    let minScore = Infinity;
    model.pieces.forEach((p, id) => {
      if (!this.byPiece.has(p.piece)) this.byPiece.set(p.piece, id);
      if (p.type === PIECE_TYPES.NORMAL || p.type === PIECE_TYPES.USER_DEFINED) {
        if (!this.matchable.has(p.piece)) {
          this.matchable.set(p.piece, id);
          this.addToTrie(p.piece, id);
        }
      }
      if (p.type === PIECE_TYPES.NORMAL) minScore = Math.min(minScore, p.score);
      const byte = /^<0x([0-9A-F]{2})>$/.exec(p.piece);
      if (p.type === PIECE_TYPES.BYTE && byte) this.byteIds.set(parseInt(byte[1], 16), id);
    });
    this.minScore = Number.isFinite(minScore) ? minScore : 0;
  }

  private addToTrie(piece: string, id: number): void {
    let node = this.trie;
    for (let k = 0; k < piece.length; k++) {
      const c = piece.charCodeAt(k);
      let n = node.next.get(c);
      if (!n) node.next.set(c, (n = { next: new Map(), id: -1 }));
      node = n;
    }
    node.id = id;
  }

  static fromBytes(bytes: Uint8Array, file: string): SentencePieceProcessor {
    return new SentencePieceProcessor(readSentencePieceModel(bytes, file), file);
  }

  get pieceSize(): number {
    return this.byId.length;
  }
  get unkId(): number {
    return this.model.trainer.unkId;
  }
  get bosId(): number {
    return this.model.trainer.bosId;
  }
  get eosId(): number {
    return this.model.trainer.eosId;
  }
  get padId(): number {
    return this.model.trainer.padId;
  }

  idToPiece(id: number): string {
    const p = this.byId[id];
    if (p === undefined) throw new ConfigError(`sentencepiece: id ${id} is outside the ${this.byId.length} pieces`);
    return p;
  }

  /** The id of a piece (unk_id when the model has no such piece). */
  pieceToId(piece: string): number {
    return this.byPiece.get(piece) ?? this.unkId;
  }

  encode(text: string): number[] {
    return this.encodeWithOffsets(text).ids;
  }

  encodeAsPieces(text: string): string[] {
    return this.encodeWithOffsets(text).pieces;
  }

  encodeWithOffsets(text: string): SpmEncoding {
    const norm = this.normalizer.normalize(text);
    const spans = this.model.trainer.modelType === "bpe" ? this.segmentBpe(norm.text) : this.segmentUnigram(norm.text);
    const out: SpmEncoding = { ids: [], pieces: [], offsets: [] };
    const unk = this.unkId;
    let prevUnk = false;
    for (const [a, b] of spans) {
      const piece = norm.text.slice(a, b);
      const id = this.matchable.get(piece) ?? unk;
      const span: [number, number] = [norm.origin[a], norm.origin[b]];
      if (id === unk && this.model.trainer.byteFallback && this.byteIds.size === 256) {
        for (const byte of ENC.encode(piece)) {
          out.ids.push(this.byteIds.get(byte)!);
          out.pieces.push(this.byId[this.byteIds.get(byte)!]);
          out.offsets.push(span);
        }
        prevUnk = false;
        continue;
      }
      if (id === unk && prevUnk) {
        const k = out.ids.length - 1;
        out.pieces[k] += piece;
        out.offsets[k] = [out.offsets[k][0], span[1]];
        continue;
      }
      out.ids.push(id);
      out.pieces.push(piece);
      out.offsets.push(span);
      prevUnk = id === unk;
    }
    return out;
  }

  /** Viterbi segmentation: [start, end) spans of the normalized text. */
  private segmentUnigram(s: string): [number, number][] {
    if (s.length === 0) return [];
    const starts = charStarts(s);
    const n = starts.length - 1;
    // UTF-16 position → character index (−1 inside a surrogate pair)
    const index = new Int32Array(s.length + 1).fill(-1);
    starts.forEach((p, k) => (index[p] = k));
    const best = new Float64Array(n + 1).fill(-Infinity);
    const from = new Int32Array(n + 1).fill(-1);
    best[0] = 0;
    const unkScore = Math.fround(this.minScore - UNK_PENALTY);
    const scores = this.model.pieces;
    const relax = (i: number, j: number, score: number) => {
      const cand = Math.fround(best[i] + score);
      if (from[j] === -1 || cand > best[j]) {
        best[j] = cand;
        from[j] = i;
      }
    };
    for (let i = 0; i < n; i++) {
      if (from[i] === -1 && i !== 0) continue;
      let single = false;
      // every piece that starts here, shortest first (sentencepiece's common-prefix search order)
      let node: TrieNode | undefined = this.trie;
      for (let k = starts[i]; k < s.length; k++) {
        node = node.next.get(s.charCodeAt(k));
        if (!node) break;
        const j = index[k + 1];
        if (node.id < 0 || j < 0) continue;
        const p = scores[node.id];
        const score = p.type === PIECE_TYPES.USER_DEFINED ? Math.fround((j - i) * this.maxScore() - 0.1) : p.score;
        relax(i, j, score);
        if (j === i + 1) single = true;
      }
      if (!single) relax(i, i + 1, unkScore);
    }
    const spans: [number, number][] = [];
    for (let j = n; j > 0; j = from[j]) spans.push([starts[from[j]], starts[j]]);
    return spans.reverse();
  }

  private maxScoreCache: number | null = null;
  private maxScore(): number {
    if (this.maxScoreCache === null) this.maxScoreCache = this.model.pieces.reduce((m, p) => (p.type === PIECE_TYPES.NORMAL ? Math.max(m, p.score) : m), -Infinity);
    return this.maxScoreCache;
  }

  /** BPE merges from characters: [start, end) spans of the normalized text. */
  private segmentBpe(s: string): [number, number][] {
    if (s.length === 0) return [];
    const starts = charStarts(s);
    const spans: [number, number][] = [];
    for (let k = 0; k + 1 < starts.length; k++) spans.push([starts[k], starts[k + 1]]);
    for (;;) {
      let bestK = -1, bestScore = -Infinity;
      for (let k = 0; k + 1 < spans.length; k++) {
        const id = this.matchable.get(s.slice(spans[k][0], spans[k + 1][1]));
        if (id === undefined) continue;
        const score = this.model.pieces[id].score;
        if (score > bestScore) {
          bestScore = score;
          bestK = k;
        }
      }
      if (bestK < 0) return spans;
      spans.splice(bestK, 2, [spans[bestK][0], spans[bestK + 1][1]]);
    }
  }

  /** Text of ids: control pieces dropped, unknown ones as unk_surface, bytes joined as UTF-8, "▁" → " ". */
  decode(ids: number[]): string {
    return this.decodeParts(ids.map((id) => ({ id, piece: this.idToPiece(id) })));
  }

  /** Text of pieces (a piece the model lacks is plain text). */
  decodePieces(pieces: string[]): string {
    return this.decodeParts(pieces.map((piece) => ({ id: this.byPiece.get(piece) ?? -1, piece })));
  }

  private decodeParts(parts: { id: number; piece: string }[]): string {
    let out = "";
    let bosWs = this.model.normalizer.addDummyPrefix;
    let bytes: number[] = [];
    const flushBytes = () => {
      if (bytes.length) out += UTF8.decode(Uint8Array.from(bytes));
      bytes = [];
    };
    for (const { id, piece } of parts) {
      const type = id >= 0 ? this.model.pieces[id].type : PIECE_TYPES.NORMAL;
      if (type === PIECE_TYPES.BYTE) {
        bytes.push(parseInt(piece.slice(3, 5), 16));
        bosWs = false;
        continue;
      }
      flushBytes();
      if (type === PIECE_TYPES.CONTROL) continue;
      let text = type === PIECE_TYPES.UNKNOWN ? this.model.trainer.unkSurface : piece;
      if (type !== PIECE_TYPES.UNKNOWN && bosWs && text.startsWith(SPACE_SYMBOL)) text = text.slice(1);
      if (text.length > 0) bosWs = false;
      out += text.replaceAll(SPACE_SYMBOL, " ");
    }
    flushBytes();
    return out;
  }
}
