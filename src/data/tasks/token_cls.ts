// Token classification (NER): word-level BIO tags aligned to sub-tokens through wordIds.
// As in transformers' run_ner.py: the first sub-token of each word carries the word's label,
// the other sub-tokens and special tokens get −100 (ignored by the loss), unless labelAllTokens.

import { ConfigError } from "../../tensor/errors.js";
import { Dataset, Row } from "../datasets.js";
import type { Features } from "../collate.js";
import type { TaskTokenizer } from "./types.js";

/** The label list of a BIO tag set: "O" first, then the others sorted (stable ids across runs). */
export function bioLabelList(tagSequences: Iterable<string[]>): string[] {
  const set = new Set<string>();
  for (const seq of tagSequences) for (const t of seq) set.add(t);
  const rest = [...set].filter((t) => t !== "O").sort();
  return set.has("O") ? ["O", ...rest] : rest;
}

/**
 * Aligns word labels to tokens. wordIds[t] is the word of token t (null for special tokens).
 * labelAllTokens: continuation sub-tokens get the word's label, with B-X turned into I-X when
 * bToI maps the id (run_ner's b_to_i_label).
 */
export function alignLabelsWithTokens(wordIds: (number | null)[], wordLabels: number[], opts: { labelAllTokens?: boolean; bToI?: number[]; ignoreIndex?: number } = {}): number[] {
  const ignore = opts.ignoreIndex ?? -100;
  const out: number[] = [];
  let prev: number | null = null;
  for (const w of wordIds) {
    if (w === null) out.push(ignore);
    else {
      if (w < 0 || w >= wordLabels.length) throw new ConfigError(`alignLabelsWithTokens: word id ${w} out of range for ${wordLabels.length} word labels`);
      if (w !== prev) out.push(wordLabels[w]);
      else if (opts.labelAllTokens) out.push(opts.bToI ? opts.bToI[wordLabels[w]] : wordLabels[w]);
      else out.push(ignore);
    }
    prev = w;
  }
  return out;
}

/** For each label id, the id of its I- form (B-X → I-X; others unchanged). */
export function bToIMap(labels: string[]): number[] {
  return labels.map((l, i) => {
    if (!l.startsWith("B-")) return i;
    const j = labels.indexOf(`I-${l.slice(2)}`);
    return j >= 0 ? j : i;
  });
}

export interface TokenClsOptions {
  tokensColumn?: string;
  tagsColumn?: string;
  /** The label names (index = id); default bioLabelList over the dataset. */
  labelList?: string[];
  maxLength?: number;
  labelAllTokens?: boolean;
  /** Where the rows come from (a file name), for messages. */
  source?: string;
  /** The tags column must be present (training and scored evaluation rows). */
  requireTags?: boolean;
}

/** The words and tags columns of a token-classification dataset (tags: tags, else ner_tags); missing ones name the source. */
export function tokenClsColumns(columns: readonly string[], opts: Pick<TokenClsOptions, "tokensColumn" | "tagsColumn" | "requireTags">, source = "dataset"): { tokCol: string; tagCol: string } {
  const found = `columns found: ${columns.join(", ") || "none"}`;
  const tokCol = opts.tokensColumn ?? "tokens";
  if (!columns.includes(tokCol)) throw new ConfigError(`${source}: words column '${tokCol}' not found (${found}); pass --text_column`);
  const tagCol = opts.tagsColumn ?? (columns.includes("tags") ? "tags" : "ner_tags");
  if (opts.requireTags && !columns.includes(tagCol)) throw new ConfigError(`${source}: tags column '${tagCol}' not found (${found}); pass --label_column`);
  return { tokCol, tagCol };
}

/** Tokenizes pre-split words (isSplitIntoWords) and aligns the tags. Rows keep `wordIds` for evaluation. */
export function preprocessTokenCls(ds: Dataset<Row>, tokenizer: TaskTokenizer, opts: TokenClsOptions = {}): { dataset: Dataset<Features>; labelList: string[]; label2id: Record<string, number> } {
  const source = opts.source ?? "preprocessTokenCls";
  const { tokCol, tagCol } = tokenClsColumns(ds.columns, opts, source);
  const labelList = opts.labelList ?? bioLabelList(ds.column(tagCol).filter(Array.isArray) as string[][]);
  const label2id = Object.fromEntries(labelList.map((l, i) => [l, i]));
  const bToI = opts.labelAllTokens ? bToIMap(labelList) : undefined;
  const dataset = ds.map((row, i) => {
    const words = row[tokCol];
    if (!Array.isArray(words)) throw new ConfigError(`${source} row ${i}: column '${tokCol}' is not a list of words`);
    const enc = tokenizer.call([words as string[]], {
      isSplitIntoWords: true,
      truncation: opts.maxLength !== undefined ? "longest_first" : false,
      maxLength: opts.maxLength,
    });
    const f: Features = { inputIds: enc.inputIds[0], attentionMask: enc.attentionMask[0], tokenTypeIds: enc.tokenTypeIds[0], wordIds: enc.wordIds[0] };
    const tags = row[tagCol];
    if (Array.isArray(tags)) {
      if (tags.length !== words.length) throw new ConfigError(`${source} row ${i}: ${words.length} words but ${tags.length} tags`);
      const ids = tags.map((t) => {
        const id = typeof t === "number" ? t : label2id[t];
        if (id === undefined) throw new ConfigError(`${source} row ${i}: tag '${t}' is not one of the ${labelList.length} tags (${labelList.join(", ")})`);
        return id;
      });
      f.labels = alignLabelsWithTokens(enc.wordIds[0], ids, { labelAllTokens: opts.labelAllTokens, bToI });
    }
    return f;
  });
  return { dataset, labelList, label2id };
}

/**
 * Turns per-token predictions back into word-level tag sequences for seqeval: positions whose
 * gold label is −100 are dropped (as in run_ner's compute_metrics).
 */
export function tokenPredictionsToTags(predictions: number[][], labels: number[][], labelList: string[]): { yTrue: string[][]; yPred: string[][] } {
  const yTrue: string[][] = [], yPred: string[][] = [];
  predictions.forEach((pred, b) => {
    const t: string[] = [], p: string[] = [];
    labels[b].forEach((l, k) => {
      if (l === -100) return;
      t.push(labelList[l]);
      p.push(labelList[pred[k]]);
    });
    yTrue.push(t);
    yPred.push(p);
  });
  return { yTrue, yPred };
}
