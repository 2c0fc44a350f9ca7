// The "qa" task: extractive question answering as run_qa does it — contexts cut into windows
// with a stride, start/end positions as labels, spans decoded back to text, SQuAD EM/F1.

import { AutoModelForQuestionAnswering } from "../../models/auto.js";
import type { Dataset, Row } from "../datasets.js";
import { DataCollatorWithPadding, Features } from "../collate.js";
import { normalizeAnswer, squadScores } from "../metrics.js";
import { QaFeature, postprocessQaPredictions, prepareQaEvalFeatures, prepareQaTrainFeatures } from "./qa.js";
import { qaLogits } from "./predictions.js";
import { registerTask } from "./registry.js";
import { headOptions, requireColumns, type PreparedTask, type TaskEvaluator, type TaskOptions } from "./task.js";
import type { TaskTokenizer } from "./types.js";

/** The model inputs of a feature, with its start/end positions (the Trainer then reports eval_loss too). */
function modelFeatures(ds: Dataset<QaFeature>): Dataset<Features> {
  return ds.map((f) => ({
    inputIds: f.inputIds, attentionMask: f.attentionMask, tokenTypeIds: f.tokenTypeIds,
    startPositions: f.startPositions, endPositions: f.endPositions,
  }));
}

function prepare(rows: { train?: Dataset<Row>; eval?: Dataset<Row> }, tokenizer: TaskTokenizer, opts: TaskOptions): PreparedTask {
  const windows = { maxLength: opts.maxLength ?? 128, docStride: opts.docStride ?? 32 };
  // run_qa's columns, checked before any window is cut: answers to train on and to score, not to predict
  if (rows.train) requireColumns(rows.train.columns, ["question", "context", "answers"], opts.trainSource ?? "training rows");
  if (rows.eval) requireColumns(rows.eval.columns, ["question", "context", ...(opts.evalUnlabelled ? [] : ["answers"])], opts.evalSource ?? "evaluation rows");
  const prepared: PreparedTask = {
    labels: {},
    trainDataset: rows.train ? modelFeatures(prepareQaTrainFeatures(rows.train, tokenizer, windows)) : undefined,
    collator: new DataCollatorWithPadding(tokenizer),
  };
  const evalRows = rows.eval;
  if (!evalRows) return prepared;
  // offsets and example ids stay here, for decoding the spans
  const evalFeats = prepareQaEvalFeatures(evalRows, tokenizer, windows);
  prepared.evalDataset = modelFeatures(prepareQaTrainFeatures(evalRows, tokenizer, windows));
  const answers = (predictions: unknown) => {
    const [start, end] = qaLogits(predictions);
    return postprocessQaPredictions(evalRows, evalFeats, start, end).predictions;
  };
  let lastReport: Record<string, unknown> | undefined;
  prepared.evalReport = () => lastReport;
  prepared.computeMetrics = ({ predictions }) => {
    const refs = evalRows.toArray().map((r, i) => ({ id: String(r.id ?? i), answers: ((r.answers as { text?: string[] } | undefined)?.text ?? []) }));
    const predicted = answers(predictions);
    const s = squadScores(predicted, refs);
    // the report's answer-length histogram (words after SQuAD's normalisation; the first reference answer)
    const words = (t: string | undefined) => (t ? normalizeAnswer(t).split(" ").filter(Boolean).length : 0);
    lastReport = { kind: "qa", predicted_lengths: refs.map((r) => words(predicted[r.id])), reference_lengths: refs.map((r) => words(r.answers[0])) };
    return { exact_match: s.exactMatch, f1: s.f1 };
  };
  prepared.decode = (predictions) => Object.entries(answers(predictions)).map(([id, answer]) => ({ id, answer }));
  return prepared;
}

/** trainer.evaluate(), then EM/F1 from the decoded spans (QA batches carry positions, not labels). */
async function evaluate(trainer: TaskEvaluator, prepared: PreparedTask): Promise<Record<string, unknown>> {
  const m: Record<string, unknown> = await trainer.evaluate();
  if (prepared.computeMetrics && prepared.evalDataset && m.eval_exact_match === undefined) {
    const p = await trainer.predict(prepared.evalDataset, { metricKeyPrefix: "eval" });
    for (const [k, v] of Object.entries(prepared.computeMetrics({ predictions: p.predictions, labelIds: undefined }))) m[`eval_${k}`] = v;
  }
  return m;
}

export const qaTask = registerTask({
  name: "qa",
  description: "extractive question answering (SQuAD-style rows): exact match and F1",
  taskType: "QUESTION_ANS",
  hasLabelSet: false,
  architecture: /QuestionAnswering/,
  loadModel: (dir, _labels, opts) => AutoModelForQuestionAnswering.fromPretrained(dir, headOptions({}, opts)),
  prepare,
  evaluate,
});
