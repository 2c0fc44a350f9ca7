// transformers' MarianTokenizer: a folder with source.spm and target.spm (SentencePiece models,
// read by sentencepiece.ts) and vocab.json (piece → model id; Marian's ids are not the SentencePiece
// ids). Sources are segmented by the source model, targets (`targetTokenizer`, HF's text_target)
// by the target model; pieces become ids through vocab.json (a piece it lacks is <unk>), a leading
// language code ">>xx<<" is kept as one token, and </s> is appended (pairs: a + b + </s>). Decoding
// maps ids back through vocab.json, keeps special tokens out of the SentencePiece decode (or drops
// them with skipSpecialTokens; <unk> counts as special), turns "▁" into spaces and strips the ends,
// as MarianTokenizer.convert_tokens_to_string does. The PreTrainedTokenizer base holds the vocabulary
// and special tokens (a WordPiece tokenizer.json over vocab.json that is never used to segment),
// so batching, truncation and padding are the base class's.

import { ConfigError, FormatError } from "../tensor/errors.js";
import { getFiles } from "../platform/files.js";
import { join } from "../platform/paths.js";
import { readJsonFileChecked } from "./json.js";
import { PreTrainedTokenizer } from "./tokenizer.js";
import type { Json } from "./tokenizer_files.js";
import { tokenContent } from "./tokenizer_files.js";
import type { DecodeOptions, Seq } from "./tokenizer_types.js";
import { SentencePieceProcessor } from "./sentencepiece.js";
import { SPACE_SYMBOL } from "./sentencepiece_normalizer.js";

export interface MarianParts {
  vocab: Record<string, number>;
  source: SentencePieceProcessor;
  target: SentencePieceProcessor;
  config: Json;
}

function baseTokenizerJson(vocab: Record<string, number>, specials: string[], eos: string): Json {
  const added = specials.filter((t) => Object.hasOwn(vocab, t)).map((content) => ({
    id: vocab[content], content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true,
  }));
  const eosSpec = { [eos]: { id: eos, ids: [vocab[eos]], tokens: [eos] } };
  return {
    version: "1.0", truncation: null, padding: null, added_tokens: added, normalizer: null, pre_tokenizer: null,
    post_processor: {
      type: "TemplateProcessing",
      single: [{ Sequence: { id: "A", type_id: 0 } }, { SpecialToken: { id: eos, type_id: 0 } }],
      pair: [{ Sequence: { id: "A", type_id: 0 } }, { Sequence: { id: "B", type_id: 0 } }, { SpecialToken: { id: eos, type_id: 0 } }],
      special_tokens: eosSpec,
    },
    decoder: null,
    model: { type: "WordPiece", vocab, unk_token: "<unk>", continuing_subword_prefix: "\u0000", max_input_chars_per_word: 1e9 },
  };
}

export class MarianTokenizer extends PreTrainedTokenizer {
  readonly vocab: Record<string, number>;
  readonly source: SentencePieceProcessor;
  readonly target: SentencePieceProcessor;
  /** The same vocabulary with the target model: labels are tokenized and decoded with it. */
  readonly targetTokenizer: MarianTokenizer;
  private readonly spm: SentencePieceProcessor;
  private readonly idToPiece = new Map<number, string>();

  constructor(parts: MarianParts, dir: string | null = null, targetMode = false) {
    const config: Json = { unk_token: "<unk>", eos_token: "</s>", pad_token: "<pad>", ...parts.config, tokenizer_class: "MarianTokenizer" };
    const names = ["unk_token", "eos_token", "pad_token"].map((k) => tokenContent(config[k]));
    for (const [k, t] of [["unk_token", names[0]], ["eos_token", names[1]]] as const) {
      if (!t || !Object.hasOwn(parts.vocab, t)) throw new FormatError(`${dir ?? "marian tokenizer"}: vocab.json has no ${k} ${JSON.stringify(t)}`);
    }
    super(baseTokenizerJson(parts.vocab, names.filter((t): t is string => t !== null), names[1]!), config, dir);
    if (config.separate_vocabs === true) throw new ConfigError(`${dir ?? "marian tokenizer"}: separate_vocabs (target_vocab_file) is not supported`);
    this.vocab = parts.vocab;
    this.source = parts.source;
    this.target = parts.target;
    this.spm = targetMode ? parts.target : parts.source;
    for (const [piece, id] of Object.entries(parts.vocab)) if (!this.idToPiece.has(id)) this.idToPiece.set(id, piece);
    this.targetTokenizer = targetMode ? this : new MarianTokenizer(parts, dir, true);
  }

  /** Reads vocab.json, source.spm, target.spm and tokenizer_config.json (optional) from a folder. */
  static fromDir(dir: string): MarianTokenizer {
    const f = getFiles();
    const vocab = readJsonFileChecked(join(dir, "vocab.json"), "vocab.json") as Record<string, number>;
    if (!vocab || typeof vocab !== "object" || Array.isArray(vocab) || Object.values(vocab).some((v) => !Number.isInteger(v) || v < 0)) {
      throw new FormatError(`${join(dir, "vocab.json")}: expected an object of piece → non-negative integer id`);
    }
    const spm = (name: string) => {
      const p = join(dir, name);
      if (!f.exists(p)) throw new FormatError(`${dir}: no ${name} (a Marian folder has source.spm, target.spm and vocab.json)`);
      return SentencePieceProcessor.fromBytes(f.readFile(p), p);
    };
    const cfgPath = join(dir, "tokenizer_config.json");
    const config = f.exists(cfgPath) ? (readJsonFileChecked(cfgPath, "tokenizer_config.json") as Json) : {};
    return new MarianTokenizer({ vocab, source: spm("source.spm"), target: spm("target.spm"), config }, dir);
  }

  private pieceId(piece: string): number {
    return Object.hasOwn(this.vocab, piece) ? this.vocab[piece] : this.unkTokenId!;
  }

  protected override encodeText(text: string): Seq {
    const seq: Seq = { ids: [], tokens: [], offsets: [], wordIds: [] };
    let rest = text, base = 0;
    const end = text.startsWith(">>") ? text.indexOf("<<") : -1;
    if (end !== -1) {
      const code = text.slice(0, end + 2);
      seq.ids.push(this.pieceId(code));
      seq.tokens.push(code);
      seq.offsets.push([0, end + 2]);
      seq.wordIds.push(null);
      rest = text.slice(end + 2);
      base = end + 2;
    }
    const enc = this.spm.encodeWithOffsets(rest);
    enc.pieces.forEach((p, i) => {
      seq.ids.push(this.pieceId(p));
      seq.tokens.push(p);
      seq.offsets.push([enc.offsets[i][0] + base, enc.offsets[i][1] + base]);
      seq.wordIds.push(null);
    });
    return seq;
  }

  override decode(ids: number[], opts: DecodeOptions = {}): string {
    const special = new Set(this.allSpecialIds);
    const specialTokens = new Set([...special].map((id) => this.idToPiece.get(id)));
    // as transformers with shared vocabularies: pieces are joined with the source model
    const spm = this.source;
    let out = "";
    let run: string[] = [];
    for (const raw of ids) {
      const id = Number(raw);
      if (opts.skipSpecialTokens && special.has(id)) continue;
      const tok = this.idToPiece.get(id) ?? (id >= 0 && id < spm.pieceSize ? spm.idToPiece(id) : this.unkToken ?? "<unk>");
      if (specialTokens.has(tok)) {
        out += spm.decodePieces(run) + tok + " ";
        run = [];
      } else run.push(tok);
    }
    out += spm.decodePieces(run);
    return out.replaceAll(SPACE_SYMBOL, " ").trim();
  }
}
