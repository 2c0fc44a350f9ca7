// The "translation" and "summarization" tasks: encoder–decoder fine-tuning as run_translation /
// run_summarization do it. Rows are tokenized by tasks/seq2seq.ts, batches padded by
// DataCollatorForSeq2Seq (labels −100, decoder inputs from the shifted labels). With the Trainer's
// predict_with_generate the evaluation predictions are generated ids, scored here as the scripts
// do: sacrebleu BLEU and chrF (translation), ROUGE-1/2/L × 100 (summarization), and gen_len, the
// mean count of non-pad ids of a prediction. Without it (predictions are logits) only the loss is
// reported, as the scripts pass no compute_metrics then.

import { AutoModelForSeq2SeqLM } from "../../models/auto.js";
import type { Dataset, Row } from "../datasets.js";
import { DataCollatorForSeq2Seq, type Features } from "../collate.js";
import { bleu, chrf, rouge } from "../metrics.js";
import { preprocessSeq2Seq, type Seq2SeqTokenizer } from "./seq2seq.js";
import { registerTask } from "./registry.js";
import { headOptions, type PreparedTask, type Task, type TaskMetrics, type TaskOptions } from "./task.js";
import type { TaskTokenizer } from "./types.js";

type Kind = "translation" | "summarization";

/** Whether the predictions are generated id rows (number[] per example), not logits. */
function areIds(predictions: unknown): predictions is number[][] {
  return Array.isArray(predictions) && predictions.every((r) => Array.isArray(r) && r.every((x) => typeof x === "number"));
}

/** Decodes generated rows (or labels, −100 → pad) to trimmed texts with the target tokenizer. */
export function decodeTargets(rows: number[][], tokenizer: Seq2SeqTokenizer): string[] {
  const tok = tokenizer.targetTokenizer ?? tokenizer;
  const pad = tok.padTokenId ?? tokenizer.padTokenId ?? 0;
  return rows.map((r) => tok.decode(r.map((x) => (x === -100 ? pad : x)), { skipSpecialTokens: true }).trim());
}

/** The generation metrics of a kind (HF names without the eval_ prefix). */
export function seq2seqMetrics(kind: Kind, tokenizer: Seq2SeqTokenizer): TaskMetrics {
  return ({ predictions, labelIds }): Record<string, number> => {
    if (!areIds(predictions) || !Array.isArray(labelIds)) return {};
    const preds = decodeTargets(predictions, tokenizer);
    const refs = decodeTargets(labelIds as number[][], tokenizer);
    const pad = (tokenizer.targetTokenizer ?? tokenizer).padTokenId ?? tokenizer.padTokenId;
    const genLen = predictions.reduce((s, r) => s + r.filter((x) => x !== pad).length, 0) / Math.max(1, predictions.length);
    if (kind === "translation") return { bleu: bleu(preds, refs).score, chrf: chrf(preds, refs).score, gen_len: genLen };
    const r = rouge(preds, refs);
    return { rouge1: 100 * r.rouge1, rouge2: 100 * r.rouge2, rougeL: 100 * r.rougeL, gen_len: genLen };
  };
}

function prepareFor(kind: Kind) {
  return (rows: { train?: Dataset<Row>; eval?: Dataset<Row> }, tokenizer: TaskTokenizer, opts: TaskOptions): PreparedTask => {
    const tok = tokenizer as Seq2SeqTokenizer;
    const columns = kind === "translation"
      ? { sourceLang: opts.sourceLang ?? "en", targetLang: opts.targetLang ?? "de", ...(opts.textColumn ? { sourceColumn: opts.textColumn } : {}), ...(opts.targetColumn ? { targetColumn: opts.targetColumn } : {}) }
      : { sourceColumn: opts.textColumn ?? "text", targetColumn: opts.targetColumn ?? "summary" };
    const common = {
      ...columns,
      ...(opts.sourcePrefix !== undefined ? { sourcePrefix: opts.sourcePrefix } : {}),
      ...(opts.maxSourceLength !== undefined ? { maxSourceLength: opts.maxSourceLength } : {}),
      ...(opts.maxTargetLength !== undefined ? { maxTargetLength: opts.maxTargetLength } : {}),
      ...(opts.warn ? { warn: opts.warn } : {}),
    };
    const pre = (ds: Dataset<Row>, source: string, unlabelled: boolean): Dataset<Features> => preprocessSeq2Seq(ds, tok, { ...common, source, unlabelled });
    return {
      labels: {},
      trainDataset: rows.train ? pre(rows.train, opts.trainSource ?? "training rows", false) : undefined,
      evalDataset: rows.eval ? pre(rows.eval, opts.evalSource ?? "evaluation rows", opts.evalUnlabelled === true) : undefined,
      collator: new DataCollatorForSeq2Seq(tokenizer, opts.decoderStart ? { model: opts.decoderStart } : {}),
      computeMetrics: seq2seqMetrics(kind, tok),
      decode: (predictions) => {
        const src = rows.eval ? rows.eval.toArray() : [];
        const texts = areIds(predictions) ? decodeTargets(predictions, tok) : [];
        return texts.map((t, i) => ({ ...src[i], prediction: t }));
      },
    };
  };
}

function seq2seqTask(kind: Kind, description: string): Task {
  return {
    name: kind,
    description,
    taskType: "SEQ_2_SEQ_LM",
    hasLabelSet: false,
    architecture: /ForConditionalGeneration|MTModel/,
    loadModel: (dir, _labels, opts) => AutoModelForSeq2SeqLM.fromPretrained(dir, headOptions({}, opts)),
    prepare: prepareFor(kind),
  };
}

export const translationTask = registerTask(seq2seqTask("translation",
  "translation with an encoder-decoder (T5, BART, Marian): {\"translation\": {src: …, tgt: …}} rows or two columns; loss, and BLEU/chrF with predict_with_generate"));
export const summarizationTask = registerTask(seq2seqTask("summarization",
  "summarization with an encoder-decoder: text/summary columns; loss, and ROUGE-1/2/L with predict_with_generate"));
