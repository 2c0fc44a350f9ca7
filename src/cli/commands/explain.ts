// peft-ts explain: which tokens made the prediction — Integrated Gradients, gradient × input or
// attention rollout for one --text, printed per token (coloured on a TTY) and written to a
// self-contained explain.html with the attention map of --layer/--head and the prediction with
// and without the adapter.

import { dirname } from "node:path";
import { mkdirSync } from "node:fs";
import type { Opts } from "../resolve.js";
import { loadModelWithAdapter, loadTokenizer } from "../pipeline.js";
import { CliError } from "../errors.js";
import { atomicWriteFile } from "../../io/fs.js";
import { noGrad } from "../../tensor/autograd.js";
import * as ops from "../../ops/index.js";
import { PeftModel } from "../../peft/index.js";
import type { PreTrainedTokenizer } from "../../io/tokenizer.js";
import type { ModelInputs, ModelOutput } from "../../models/modeling_utils.js";
import {
  formatTokenScores, gradientXInput, integratedGradients, renderExplainHtml, rolloutExplain, INTEGRATION_METHODS,
  type AttributionTarget, type ExplainableModel, type IntegrationMethod, type PredictionRow,
} from "../../explain/index.js";

type Kind = AttributionTarget["kind"];

function targetKind(taskType: string, task: string): Kind {
  if (taskType === "SEQ_CLS") return "sequence-classification";
  if (taskType === "TOKEN_CLS") return "token-classification";
  if (taskType === "CAUSAL_LM") return "causal-lm";
  throw new CliError(`explain supports seq-cls, token-cls and causal-lm models; this one is ${task}`);
}

/** --label as a class name or id (classification) or a token (causal LM: its first token id). */
function labelIndex(raw: unknown, kind: Kind, config: { id2label?: Record<number, string>; label2id?: Record<string, number>; numLabels?: number }, tok: PreTrainedTokenizer): number | undefined {
  if (raw === undefined || raw === null || raw === "") return undefined;
  const s = String(raw);
  if (kind === "causal-lm") {
    if (/^#\d+$/.test(s)) return Number(s.slice(1));
    const ids = tok.encode(s, { addSpecialTokens: false });
    if (ids.length === 0) throw new CliError(`--label '${s}': the tokenizer gives no token for it (or pass a token id as #ID)`);
    return ids[0];
  }
  if (config.label2id && s in config.label2id) return config.label2id[s];
  if (/^\d+$/.test(s) && Number(s) < (config.numLabels ?? Infinity)) return Number(s);
  const names = Object.keys(config.label2id ?? {});
  throw new CliError(`--label '${s}' is not one of the model's labels (${names.length ? names.join(", ") : `0…${(config.numLabels ?? 1) - 1}`})`);
}

function labelName(i: number, kind: Kind, config: { id2label?: Record<number, string> }, tok: PreTrainedTokenizer): string {
  if (kind === "causal-lm") return JSON.stringify(tok.decode([i]));
  return config.id2label?.[i] ?? `LABEL_${i}`;
}

/** Probabilities of the explained row: every class, or the 5 most likely next tokens. */
function predictionRows(out: ModelOutput, kind: Kind, position: number, config: { id2label?: Record<number, string> }, tok: PreTrainedTokenizer): PredictionRow[] {
  const logits = out.logits!;
  const row = kind === "sequence-classification" ? logits.select(0, 0) : logits.select(0, 0).select(0, position);
  const p = Array.from(ops.softmax(row, -1).f32());
  const rows = p.map((probability, i) => ({ label: labelName(i, kind, config, tok), probability, i }));
  return (kind === "causal-lm" ? rows.sort((a, b) => b.probability - a.probability).slice(0, 5) : rows).map(({ label, probability }) => ({ label, probability }));
}

export async function run(opts: Opts): Promise<number> {
  const text = opts.text;
  if (typeof text !== "string" || text === "") throw new CliError("--text is required (the input to explain)");
  const method = String(opts.method ?? "ig");
  const { dir, task, model } = await loadModelWithAdapter(opts);
  const tok = await loadTokenizer(opts, dir);
  const kind = targetKind(task.taskType, task.name);
  const config = (model as unknown as ExplainableModel).config as { id2label?: Record<number, string>; label2id?: Record<string, number>; numLabels?: number; padTokenId?: number | null };
  const inputIds = tok.encode(text);
  const T = inputIds.length;
  const tokens = tok.convertIdsToTokens(inputIds);
  const m = model as unknown as ExplainableModel;
  let position = kind === "causal-lm" ? T - 1 : 0;
  if (kind === "token-classification") {
    const t = opts.token_index === undefined ? 0 : Number(opts.token_index);
    if (!Number.isInteger(t) || t < 0 || t >= T) throw new CliError(`--token_index ${opts.token_index} is outside the ${T} tokens of --text (${tokens.join(" ")})`);
    position = t;
  }
  const label = labelIndex(opts.label, kind, config, tok);
  const target: AttributionTarget = kind === "sequence-classification" ? { kind, label } : kind === "token-classification" ? { kind, token: position, label } : { kind, tokenId: label, position };

  let scores: number[], index: number, detail: string, delta: number | null = null;
  if (method === "ig") {
    const nSteps = Number(opts.n_steps ?? 50), igMethod = String(opts.ig_method ?? "gausslegendre") as IntegrationMethod;
    if (!INTEGRATION_METHODS.includes(igMethod)) throw new CliError(`--ig_method must be one of ${INTEGRATION_METHODS.join(", ")}, got '${igMethod}'`);
    const baseline = String(opts.baseline ?? (config.padTokenId === null || config.padTokenId === undefined ? "zero" : "pad"));
    if (baseline !== "pad" && baseline !== "zero") throw new CliError(`--baseline must be pad or zero, got '${baseline}'`);
    const r = integratedGradients(m, { inputIds }, { target, nSteps, method: igMethod, baseline, keepTokenIds: tok.allSpecialIds });
    scores = r.tokenAttributions;
    index = r.target.index;
    delta = r.convergenceDelta;
    detail = `${nSteps} steps, ${igMethod}, ${baseline} baseline; f(x) = ${r.score.toFixed(4)}, f(baseline) = ${r.baselineScore.toFixed(4)}`;
  } else if (method === "grad_x_input") {
    const r = gradientXInput(m, { inputIds }, { target });
    scores = r.tokenAttributions;
    index = r.target.index;
    detail = `f(x) = ${r.score.toFixed(4)}`;
  } else if (method === "rollout") {
    const r = rolloutExplain(m, { inputIds }, { query: position });
    scores = r.tokenScores;
    index = label ?? -1;
    detail = `row ${position} (${tokens[position]}) of the rollout`;
  } else {
    throw new CliError(`--method must be ig, grad_x_input or rollout, got '${method}'`);
  }

  const inputs: ModelInputs = { inputIds: [inputIds], outputAttentions: true };
  const withAdapter = noGrad(() => m.forward(inputs));
  if (index < 0) index = argmaxRow(withAdapter, kind, position);
  const predictions = [{ name: model instanceof PeftModel ? "with the adapter" : "model", rows: predictionRows(withAdapter, kind, position, config, tok) }];
  if (model instanceof PeftModel) {
    const base = noGrad(() => model.disableAdapter(() => m.forward({ inputIds: [inputIds] })));
    predictions.unshift({ name: "base model (adapter off)", rows: predictionRows(base, kind, position, config, tok) });
  }
  const atts = withAdapter.attentions ?? [];
  const layer = opts.layer === undefined ? atts.length - 1 : Number(opts.layer);
  const head = opts.head === undefined ? 0 : Number(opts.head);
  if (atts.length && (!Number.isInteger(layer) || layer < 0 || layer >= atts.length)) throw new CliError(`--layer ${opts.layer}: the model has layers 0…${atts.length - 1}`);
  const H = atts.length ? atts[0].shape[1] : 0;
  if (atts.length && (!Number.isInteger(head) || head < 0 || head >= H)) throw new CliError(`--head ${opts.head}: the model has heads 0…${H - 1}`);
  const attention = atts.length ? { layer, head, weights: headRows(atts[layer].f32(), head, T) } : null;

  const what = kind === "token-classification" ? `${labelName(index, kind, config, tok)} at token ${position} (${tokens[position]})` : kind === "causal-lm" ? `next token ${labelName(index, kind, config, tok)} after position ${position}` : `label ${labelName(index, kind, config, tok)}`;
  process.stdout.write(`${method} attributions for ${what}${delta !== null ? ` (convergence delta ${delta.toExponential(2)})` : ""}:\n`);
  process.stdout.write(formatTokenScores(tokens, scores, process.stdout.isTTY === true) + "\n");
  const output = String(opts.output ?? "explain.html");
  mkdirSync(dirname(output), { recursive: true });
  atomicWriteFile(output, renderExplainHtml({
    model: dir, adapter: opts.adapter ? String(opts.adapter) : null, text, method, methodDetail: detail, targetDescription: what,
    tokens, scores, convergenceDelta: delta, predictions, attention,
  }));
  process.stdout.write(`wrote ${output}\n`);
  return 0;
}

function argmaxRow(out: ModelOutput, kind: Kind, position: number): number {
  const logits = out.logits!;
  const row = (kind === "sequence-classification" ? logits.select(0, 0) : logits.select(0, 0).select(0, position)).f32();
  let best = 0;
  for (let i = 1; i < row.length; i++) if (row[i] > row[best]) best = i;
  return best;
}

/** Head h of one layer's weights [1, H, T, T] as rows. */
function headRows(w: Float32Array, h: number, T: number): number[][] {
  return Array.from({ length: T }, (_, i) => Array.from(w.subarray((h * T + i) * T, (h * T + i + 1) * T)));
}
