// SentencePiece's model file (`*.model`, Marian's `source.spm`/`target.spm`): a serialized
// ModelProto (sentencepiece_model.proto). Read here, by field number:
//   ModelProto     1 pieces (repeated SentencePiece), 2 trainer_spec, 3 normalizer_spec
//   SentencePiece  1 piece (string), 2 score (float), 3 type (NORMAL 1, UNKNOWN 2, CONTROL 3,
//                  USER_DEFINED 4, UNUSED 5, BYTE 6; default NORMAL)
//   TrainerSpec    3 model_type (UNIGRAM 1, BPE 2, WORD 3, CHAR 4), 24 treat_whitespace_as_suffix,
//                  35 byte_fallback, 40 unk_id, 41 bos_id, 42 eos_id, 43 pad_id, 44 unk_surface
//   NormalizerSpec 1 name, 2 precompiled_charsmap (bytes), 3 add_dummy_prefix, 4 remove_extra_whitespaces,
//                  5 escape_whitespaces (all three default true)
// with proto2's defaults for absent fields. Other fields (training options, self-test data, the
// denormalizer) are skipped.

import { FormatError } from "../tensor/errors.js";
import { wireBytes, wireFields, wireFloat, wireInt, wireString } from "./protobuf_wire.js";

export const PIECE_TYPES = { NORMAL: 1, UNKNOWN: 2, CONTROL: 3, USER_DEFINED: 4, UNUSED: 5, BYTE: 6 } as const;
export type PieceType = (typeof PIECE_TYPES)[keyof typeof PIECE_TYPES];
export type SpmModelType = "unigram" | "bpe" | "word" | "char";
const MODEL_TYPES: Record<number, SpmModelType> = { 1: "unigram", 2: "bpe", 3: "word", 4: "char" };

export interface SpmPiece {
  piece: string;
  score: number;
  type: PieceType;
}

export interface SpmTrainerSpec {
  modelType: SpmModelType;
  unkId: number;
  bosId: number;
  eosId: number;
  padId: number;
  /** What decode writes for an unknown piece (default " ⁇ "). */
  unkSurface: string;
  byteFallback: boolean;
  treatWhitespaceAsSuffix: boolean;
}

export interface SpmNormalizerSpec {
  name: string;
  /** The normalization rules as a double-array trie + replacement strings (empty: identity). */
  precompiledCharsmap: Uint8Array;
  addDummyPrefix: boolean;
  removeExtraWhitespaces: boolean;
  escapeWhitespaces: boolean;
}

export interface SpmModel {
  pieces: SpmPiece[];
  trainer: SpmTrainerSpec;
  normalizer: SpmNormalizerSpec;
}

function readPiece(buf: Uint8Array, what: string): SpmPiece {
  const p: SpmPiece = { piece: "", score: 0, type: PIECE_TYPES.NORMAL };
  for (const f of wireFields(buf, what)) {
    if (f.field === 1) p.piece = wireString(f, what);
    else if (f.field === 2) p.score = wireFloat(f, what);
    else if (f.field === 3) {
      const t = wireInt(f, what);
      if (t < 1 || t > 6) throw new FormatError(`${what}: piece type ${t} is not one of NORMAL 1 … BYTE 6`);
      p.type = t as PieceType;
    }
  }
  return p;
}

function readTrainer(buf: Uint8Array | null, what: string): SpmTrainerSpec {
  const t: SpmTrainerSpec = { modelType: "unigram", unkId: 0, bosId: 1, eosId: 2, padId: -1, unkSurface: " \u2047 ", byteFallback: false, treatWhitespaceAsSuffix: false };
  if (!buf) return t;
  for (const f of wireFields(buf, what)) {
    if (f.field === 3) {
      const m = MODEL_TYPES[wireInt(f, what)];
      if (!m) throw new FormatError(`${what}: model_type ${f.varint} is not one of UNIGRAM 1, BPE 2, WORD 3, CHAR 4`);
      t.modelType = m;
    } else if (f.field === 24) t.treatWhitespaceAsSuffix = wireInt(f, what) !== 0;
    else if (f.field === 35) t.byteFallback = wireInt(f, what) !== 0;
    else if (f.field === 40) t.unkId = wireInt(f, what);
    else if (f.field === 41) t.bosId = wireInt(f, what);
    else if (f.field === 42) t.eosId = wireInt(f, what);
    else if (f.field === 43) t.padId = wireInt(f, what);
    else if (f.field === 44) t.unkSurface = wireString(f, what);
  }
  return t;
}

function readNormalizer(buf: Uint8Array | null, what: string): SpmNormalizerSpec {
  const n: SpmNormalizerSpec = { name: "", precompiledCharsmap: new Uint8Array(0), addDummyPrefix: true, removeExtraWhitespaces: true, escapeWhitespaces: true };
  if (!buf) return n;
  for (const f of wireFields(buf, what)) {
    if (f.field === 1) n.name = wireString(f, what);
    else if (f.field === 2) n.precompiledCharsmap = wireBytes(f, what);
    else if (f.field === 3) n.addDummyPrefix = wireInt(f, what) !== 0;
    else if (f.field === 4) n.removeExtraWhitespaces = wireInt(f, what) !== 0;
    else if (f.field === 5) n.escapeWhitespaces = wireInt(f, what) !== 0;
  }
  return n;
}

/** Parses a SentencePiece model file's bytes; `file` names it in errors. */
export function readSentencePieceModel(bytes: Uint8Array, file: string): SpmModel {
  const pieces: SpmPiece[] = [];
  let trainer: Uint8Array | null = null, normalizer: Uint8Array | null = null;
  for (const f of wireFields(bytes, file)) {
    if (f.field === 1) pieces.push(readPiece(wireBytes(f, file), `${file}: piece ${pieces.length}`));
    else if (f.field === 2) trainer = wireBytes(f, file);
    else if (f.field === 3) normalizer = wireBytes(f, file);
  }
  if (pieces.length === 0) throw new FormatError(`${file}: no pieces (is it a SentencePiece .model / .spm file?)`);
  const t = readTrainer(trainer, `${file}: trainer_spec`);
  if (t.modelType === "word" || t.modelType === "char") throw new FormatError(`${file}: model_type ${t.modelType} is not supported (expected unigram or bpe)`);
  if (t.treatWhitespaceAsSuffix) throw new FormatError(`${file}: treat_whitespace_as_suffix is not supported`);
  for (const [name, id] of [["unk_id", t.unkId], ["bos_id", t.bosId], ["eos_id", t.eosId], ["pad_id", t.padId]] as const) {
    if (id >= pieces.length) throw new FormatError(`${file}: ${name} ${id} is outside the ${pieces.length} pieces`);
  }
  if (t.unkId < 0 || pieces[t.unkId].type !== PIECE_TYPES.UNKNOWN) throw new FormatError(`${file}: unk_id ${t.unkId} is not a piece of type UNKNOWN`);
  return { pieces, trainer: t, normalizer: readNormalizer(normalizer, `${file}: normalizer_spec`) };
}
