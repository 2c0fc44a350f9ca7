// eval_predictions.json: what the report's task results need from the last evaluation, numbers
// only (no example text): classification labels, argmax predictions and the predicted class's
// probability; regression labels and predictions; token classification per-token labels and
// argmax predictions. Other shapes (causal-LM logits over a vocabulary, QA spans) are not stored.

type Nested = unknown[];

function argmaxRow(r: number[]): number {
  let k = 0;
  for (let i = 1; i < r.length; i++) if (r[i] > r[k]) k = i;
  return k;
}

function softmaxMax(r: number[]): number {
  const m = r[argmaxRow(r)];
  let s = 0;
  for (const v of r) s += Math.exp(v - m);
  return 1 / s;
}

const isNumRow = (r: unknown): r is number[] => Array.isArray(r) && r.every((v) => typeof v === "number");
const round = (v: number, d = 5) => Number(v.toFixed(d));

/** Most classes stored per token / row (label sets, not a vocabulary). */
const MAX_CLASSES = 512;

/** The record, or null when the predictions are of a kind the report does not show. */
export function evalPredictionsRecord(predictions: Nested, labelIds: Nested | undefined, step: number, labelNames: string[] | null): Record<string, unknown> | null {
  if (!labelIds || !predictions.length || predictions.length !== labelIds.length) return null;
  const names = labelNames ? { label_names: labelNames } : {};
  const first = predictions[0];
  if (isNumRow(first) && labelIds.every((l) => typeof l === "number")) {
    const rows = predictions as number[][];
    if (first.length === 1) {
      return { kind: "regression", step, labels: labelIds, predictions: rows.map((r) => round(r[0], 6)) };
    }
    if (first.length < 2 || first.length > MAX_CLASSES) return null;
    return { kind: "classification", step, ...names, labels: labelIds, predictions: rows.map(argmaxRow), confidence: rows.map((r) => round(softmaxMax(r))) };
  }
  // token classification: [N][T][C] logits with [N][T] labels (-100 where no label)
  if (Array.isArray(first) && isNumRow(first[0]) && first[0].length <= MAX_CLASSES && labelIds.every((l) => isNumRow(l))) {
    if (labelNames && first[0].length !== labelNames.length) return null;
    if (!labelNames && first[0].length > 64) return null;
    return { kind: "token_classification", step, ...names, labels: labelIds, predictions: (predictions as number[][][]).map((s) => s.map(argmaxRow)) };
  }
  return null;
}
