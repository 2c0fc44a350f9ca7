// Seq2seq data as run_translation / run_summarization prepare it: a source text (with an optional
// prefix such as T5's "translate English to German: ") and a target text per row, each tokenized
// with the tokenizer's special tokens and truncated to its limit; the target ids are the labels.
// Rows are `{"translation": {"en": …, "de": …}}` (source/target language keys) or two columns.

import { ConfigError } from "../../tensor/errors.js";
import { Dataset, Row } from "../datasets.js";
import type { Features } from "../collate.js";
import type { TaskTokenizer } from "./types.js";

export interface Seq2SeqColumns {
  /** Language keys of a `translation` column (run_translation's --source_lang/--target_lang). */
  sourceLang?: string;
  targetLang?: string;
  /** Plain columns (run_summarization's --text_column/--summary_column). */
  sourceColumn?: string;
  targetColumn?: string;
}

export interface Seq2SeqOptions extends Seq2SeqColumns {
  /** Put before every source text (run_translation's --source_prefix). */
  sourcePrefix?: string;
  /** HF defaults 1024 / 128 tokens, special tokens included. */
  maxSourceLength?: number;
  maxTargetLength?: number;
  /** Rows without a target (to be predicted): no labels. */
  unlabelled?: boolean;
  /** Names the rows in messages. */
  source?: string;
  /** Where the truncation notices go (default console.warn). */
  warn?: (msg: string) => void;
}

/** The tokenizer for targets: Marian-style tokenizers have their own (HF's text_target), others encode both sides alike. */
export type Seq2SeqTokenizer = TaskTokenizer & { targetTokenizer?: TaskTokenizer };

/** Reads the (source, target) texts of a row: from `translation[lang]` or from the two columns. */
export function seq2seqTexts(row: Row, cols: Seq2SeqColumns, source: string, index: number): { src: string; tgt: string | undefined } {
  const where = `${source} row ${index + 1}`;
  if (row.translation !== undefined && cols.sourceLang) {
    const t = row.translation as Record<string, unknown> | null;
    if (!t || typeof t !== "object") throw new ConfigError(`${where}: 'translation' must be an object like {"${cols.sourceLang}": …, "${cols.targetLang ?? "de"}": …}`);
    const src = t[cols.sourceLang];
    if (typeof src !== "string") throw new ConfigError(`${where}: translation has no string '${cols.sourceLang}' (keys: ${Object.keys(t).join(", ")}); set --source_lang`);
    const tgt = cols.targetLang ? t[cols.targetLang] : undefined;
    if (tgt !== undefined && typeof tgt !== "string") throw new ConfigError(`${where}: translation '${cols.targetLang}' must be a string`);
    return { src, tgt: tgt as string | undefined };
  }
  const sc = cols.sourceColumn ?? cols.sourceLang, tc = cols.targetColumn ?? cols.targetLang;
  if (!sc) throw new ConfigError(`${where}: no 'translation' object and no source column; set --source_lang/--target_lang or --text_column/--summary_column`);
  const src = row[sc];
  if (typeof src !== "string") throw new ConfigError(`${where}: column '${sc}' must hold a string, got ${src === undefined ? "nothing" : typeof src}`);
  const tgt = tc ? row[tc] : undefined;
  if (tgt !== undefined && tgt !== null && typeof tgt !== "string") throw new ConfigError(`${where}: column '${tc}' must hold a string`);
  return { src, tgt: (tgt ?? undefined) as string | undefined };
}

/** Ids of `text` with special tokens, cut to maxLength the tokenizer's way (special tokens kept); whether it was cut. */
function encodeLimited(tok: TaskTokenizer, text: string, maxLength: number): { ids: number[]; cut: boolean } {
  const ids = tok.encode(text);
  if (ids.length <= maxLength) return { ids, cut: false };
  return { ids: tok.call([text], { truncation: true, maxLength }).inputIds[0], cut: true };
}

/** Tokenizes source and target of every row; counts the truncated ones into one warning per side. */
export function preprocessSeq2Seq(ds: Dataset<Row>, tokenizer: Seq2SeqTokenizer, opts: Seq2SeqOptions): Dataset<Features> {
  const source = opts.source ?? "rows";
  const maxSrc = opts.maxSourceLength ?? 1024, maxTgt = opts.maxTargetLength ?? 128;
  for (const [name, v] of [["max_source_length", maxSrc], ["max_target_length", maxTgt]] as const) {
    if (!Number.isInteger(v) || v < 2) throw new ConfigError(`${name} must be an integer ≥ 2 (room for a token and EOS), got ${v}`);
  }
  const prefix = opts.sourcePrefix ?? "";
  const targetTok = tokenizer.targetTokenizer ?? tokenizer;
  const cut = { src: [] as number[], tgt: [] as number[] };
  const out = ds.toArray().map((row, i): Features => {
    const { src, tgt } = seq2seqTexts(row, opts, source, i);
    const s = encodeLimited(tokenizer, prefix + src, maxSrc);
    if (s.cut) cut.src.push(i + 1);
    const f: Features = { inputIds: s.ids, attentionMask: s.ids.map(() => 1) };
    if (tgt === undefined) {
      if (!opts.unlabelled) throw new ConfigError(`${source} row ${i + 1}: no target text (${opts.targetLang ? `translation '${opts.targetLang}'` : `column '${opts.targetColumn}'`})`);
      return f;
    }
    const t = encodeLimited(targetTok, tgt, maxTgt);
    if (t.cut) cut.tgt.push(i + 1);
    f.labels = t.ids;
    return f;
  });
  const warn = opts.warn ?? ((m: string) => console.warn(m));
  const list = (rows: number[]) => rows.slice(0, 5).join(", ") + (rows.length > 5 ? ", …" : "");
  if (cut.src.length) warn(`${source}: ${cut.src.length} of ${ds.length} source texts are longer than max_source_length ${maxSrc} tokens and were truncated (rows ${list(cut.src)})`);
  if (cut.tgt.length) warn(`${source}: ${cut.tgt.length} of ${ds.length} target texts are longer than max_target_length ${maxTgt} tokens and were truncated (rows ${list(cut.tgt)}); their labels end early`);
  return new Dataset(out);
}
