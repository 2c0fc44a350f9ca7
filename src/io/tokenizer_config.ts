// tokenizer_config.json handling: the named special tokens (pad, bos, eos, unk, cls, sep, mask)
// and additional_special_tokens resolved to ids, the padding/truncation settings and
// model_max_length, and the config written back by savePretrained.

import { tokenContent, type Json } from "./tokenizer_files.js";

/** transformers' VERY_LARGE_INTEGER: "no limit" for model_max_length. */
export const NO_LIMIT = 1e30;

export type SpecialTokenName = "pad" | "bos" | "eos" | "unk" | "cls" | "sep" | "mask";
const NAMES: SpecialTokenName[] = ["pad", "bos", "eos", "unk", "cls", "sep", "mask"];

export interface SpecialTokens {
  /** [token, id] per name; [null, null] when the config names none (or the vocabulary lacks it). */
  named: Record<SpecialTokenName, [string | null, number | null]>;
  /** Ids of additional_special_tokens found in the vocabulary. */
  additionalIds: number[];
}

/**
 * Resolves the config's special tokens with tokenToId. unk falls back to the model's own
 * unk_token (tokenizer.json model.unk_token) when the config names none.
 */
export function resolveSpecialTokens(config: Json, tokenToId: (t: string) => number | undefined, modelUnk: unknown): SpecialTokens {
  const named = {} as SpecialTokens["named"];
  for (const name of NAMES) {
    const tok = tokenContent(config[`${name}_token`]);
    const id = tok === null ? undefined : tokenToId(tok);
    named[name] = tok === null ? [null, null] : [tok, id === undefined ? null : id];
  }
  if (named.unk[1] === null && typeof modelUnk === "string") {
    const id = tokenToId(modelUnk);
    if (id !== undefined) named.unk = [modelUnk, id];
  }
  const additionalIds: number[] = [];
  for (const t of config.additional_special_tokens ?? []) {
    const c = tokenContent(t);
    const id = c === null ? undefined : tokenToId(c);
    if (id !== undefined) additionalIds.push(id);
  }
  return { named, additionalIds };
}

export interface TokenizerSettings {
  paddingSide: "right" | "left";
  truncationSide: "right" | "left";
  modelMaxLength: number;
  chatTemplate: string | null;
}

/** padding_side, truncation_side and model_max_length (NO_LIMIT when absent or not a positive number). */
export function readSettings(config: Json): Omit<TokenizerSettings, "chatTemplate"> {
  const mml = Number(config.model_max_length);
  return {
    paddingSide: config.padding_side === "left" ? "left" : "right",
    truncationSide: config.truncation_side === "left" ? "left" : "right",
    modelMaxLength: Number.isFinite(mml) && mml > 0 ? mml : NO_LIMIT,
  };
}

/** The tokenizer_config to save: the loaded one with the current settings. */
export function configForSave(config: Json, s: TokenizerSettings): Json {
  const cfg: Json = { ...config };
  cfg.padding_side = s.paddingSide;
  cfg.truncation_side = s.truncationSide;
  if (s.modelMaxLength < NO_LIMIT) cfg.model_max_length = s.modelMaxLength;
  if (s.chatTemplate !== null) cfg.chat_template = s.chatTemplate;
  return cfg;
}
