// Post-processing re-implemented from the tokenizer.json description (TemplateProcessing,
// BertProcessing, RobertaProcessing, ByteLevel trim_offsets): special tokens are placed around
// the sequences with their type ids, special-token mask and sequence ids.

import { ConfigError } from "../tensor/errors.js";
import type { Json } from "./tokenizer_files.js";
import type { EncodingWithOffsets, Seq } from "./tokenizer_types.js";

export type TemplatePiece = { kind: "special"; name: string; typeId: number } | { kind: "seq"; seq: "A" | "B"; typeId: number };

export interface PostSpec {
single: TemplatePiece[];
pair: TemplatePiece[];
specials: Map<string, { ids: number[]; tokens: string[] }>;
trimOffsets: boolean;
}

/** A component and, depth first, the components of its Sequence lists. */
export function collectTypes(cfg: Json, out: Json[] = []): Json[] {
  if (!cfg || typeof cfg !== "object") return out;
  out.push(cfg);
  for (const key of ["pretokenizers", "processors", "normalizers", "decoders"]) {
    if (Array.isArray(cfg[key])) for (const c of cfg[key]) collectTypes(c, out);
  }
  return out;
}

/** The post_processor of tokenizer.json as a template (null when there is none). */
export function parsePostProcessor(cfg: Json): PostSpec | null {
  if (!cfg) return null;
  const all = collectTypes(cfg);
  const trimOffsets = all.some((p) => p.type === "ByteLevel" && p.trim_offsets);
  const tp = all.find((p) => p.type === "TemplateProcessing" || p.type === "BertProcessing" || p.type === "RobertaProcessing");
  const specials = new Map<string, { ids: number[]; tokens: string[] }>();
  if (!tp) return { single: [{ kind: "seq", seq: "A", typeId: 0 }], pair: [{ kind: "seq", seq: "A", typeId: 0 }, { kind: "seq", seq: "B", typeId: 1 }], specials, trimOffsets };
  if (tp.type === "TemplateProcessing") {
    const conv = (list: Json[]): TemplatePiece[] => list.map((p) => {
      if (p.SpecialToken) return { kind: "special", name: p.SpecialToken.id, typeId: p.SpecialToken.type_id ?? 0 };
      if (p.Sequence) return { kind: "seq", seq: p.Sequence.id === "B" ? "B" : "A", typeId: p.Sequence.type_id ?? 0 };
      throw new ConfigError(`tokenizer.json: unknown TemplateProcessing piece ${JSON.stringify(p)}`);
    });
    for (const [k, v] of Object.entries(tp.special_tokens ?? {})) specials.set(k, { ids: (v as Json).ids, tokens: (v as Json).tokens });
    return { single: conv(tp.single ?? []), pair: conv(tp.pair ?? []), specials, trimOffsets };
  }
  const [sepTok, sepId] = tp.sep, [clsTok, clsId] = tp.cls;
  specials.set(sepTok, { ids: [sepId], tokens: [sepTok] });
  specials.set(clsTok, { ids: [clsId], tokens: [clsTok] });
  const S = (name: string, typeId: number): TemplatePiece => ({ kind: "special", name, typeId });
  const Q = (seq: "A" | "B", typeId: number): TemplatePiece => ({ kind: "seq", seq, typeId });
  if (tp.type === "BertProcessing") {
    return { single: [S(clsTok, 0), Q("A", 0), S(sepTok, 0)], pair: [S(clsTok, 0), Q("A", 0), S(sepTok, 0), Q("B", 1), S(sepTok, 1)], specials, trimOffsets };
  }
  return {
    single: [S(clsTok, 0), Q("A", 0), S(sepTok, 0)],
    pair: [S(clsTok, 0), Q("A", 0), S(sepTok, 0), S(sepTok, 0), Q("B", 0), S(sepTok, 0)],
    specials,
    trimOffsets: trimOffsets || !!tp.trim_offsets,
  };
}

/** Number of special tokens the post-processor adds (for a pair when `pair`). */
export function numSpecialTokens(post: PostSpec | null, pair: boolean): number {
  if (!post) return 0;
  let n = 0;
  for (const p of pair ? post.pair : post.single) if (p.kind === "special") n += post.specials.get(p.name)?.ids.length ?? 0;
  return n;
}

/** Joins one sequence (or a pair) into an encoding, adding the special tokens when addSpecial. */
export function postProcess(post: PostSpec | null, a: Seq, b: Seq | null, addSpecial: boolean): EncodingWithOffsets {
  const out: EncodingWithOffsets = { ids: [], tokens: [], offsets: [], typeIds: [], wordIds: [], sequenceIds: [], specialMask: [] };
  const pushSeq = (s: Seq, seqId: number, typeId: number) => {
    for (let i = 0; i < s.ids.length; i++) {
      out.ids.push(s.ids[i]);
      out.tokens.push(s.tokens[i]);
      out.offsets.push(s.offsets[i]);
      out.typeIds.push(typeId);
      out.wordIds.push(s.wordIds[i]);
      out.sequenceIds.push(seqId);
      out.specialMask.push(0);
    }
  };
  if (!addSpecial || !post) {
    pushSeq(a, 0, 0);
    if (b) pushSeq(b, 1, 1);
    return out;
  }
  for (const p of b ? post.pair : post.single) {
    if (p.kind === "seq") {
      if (p.seq === "A") pushSeq(a, 0, p.typeId);
      else if (b) pushSeq(b, 1, p.typeId);
    } else {
      const sp = post.specials.get(p.name);
      if (!sp) throw new ConfigError(`tokenizer.json: post-processor template uses special token '${p.name}' that is not in its special_tokens`);
      for (let i = 0; i < sp.ids.length; i++) {
        out.ids.push(sp.ids[i]);
        out.tokens.push(sp.tokens[i]);
        out.offsets.push([0, 0]);
        out.typeIds.push(p.typeId);
        out.wordIds.push(null);
        out.sequenceIds.push(null);
        out.specialMask.push(1);
      }
    }
  }
  return out;
}
