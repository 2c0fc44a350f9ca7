// The "causal-lm" task: language modelling as run_clm does it — instruction/chat rows trained on
// their responses, plain text packed into blocks — evaluated by loss and perplexity.

import { ConfigError } from "../../tensor/errors.js";
import { Module } from "../../nn/module.js";
import { AutoModelForCausalLM } from "../../models/auto.js";
import type { ModelInputs, ModelOutput } from "../../models/modeling_utils.js";
import type { Dataset, Row } from "../datasets.js";
import { DataCollatorForCausalLM, Features } from "../collate.js";
import { packTexts, preprocessInstructions } from "./causal_lm.js";
import { registerTask } from "./registry.js";
import { headOptions, type PreparedTask, type TaskEvaluator, type TaskOptions } from "./task.js";
import type { TaskTokenizer } from "./types.js";

function prepare(rows: { train?: Dataset<Row>; eval?: Dataset<Row> }, tokenizer: TaskTokenizer, opts: TaskOptions): PreparedTask {
  const pre = (ds: Dataset<Row>, source: string): Dataset<Features> => {
    const cols = ds.columns;
    if (cols.includes("instruction") || cols.includes("messages")) return preprocessInstructions(ds, tokenizer, { maxLength: opts.maxLength ?? 256 });
    const textCol = opts.textColumn ?? "text";
    if (!cols.includes(textCol)) throw new ConfigError(`${source}: causal-lm data needs 'instruction'/'output', 'messages' or a '${textCol}' column (columns found: ${cols.join(", ") || "none"}); set --text_column`);
    return packTexts(ds, tokenizer, { blockSize: opts.maxLength ?? 128, textColumn: textCol });
  };
  const trainDataset = rows.train ? pre(rows.train, opts.trainSource ?? "training rows") : undefined;
  if (trainDataset && trainDataset.length === 0) throw new ConfigError(`--train_file: no training sequences (texts shorter than --max_length ${opts.maxLength}?)`);
  return { labels: {}, trainDataset, evalDataset: rows.eval ? pre(rows.eval, opts.evalSource ?? "evaluation rows") : undefined, collator: new DataCollatorForCausalLM(tokenizer) };
}

/** A view of a model that returns only the loss: evaluating a causal LM keeps no [T, V] logits. */
class LossOnly extends Module {
  constructor(private readonly inner: Module & { forward(i: ModelInputs): ModelOutput }) {
    super();
    this.registerModule("inner", inner);
  }
  forward(inputs: ModelInputs): ModelOutput {
    return { loss: this.inner.forward(inputs).loss };
  }
}

/** eval_loss through the loss-only view, plus run_clm's perplexity = exp(eval_loss). */
async function evaluate(trainer: TaskEvaluator): Promise<Record<string, unknown>> {
  const model = trainer.model;
  trainer.model = new LossOnly(model as Module & { forward(i: ModelInputs): ModelOutput });
  try {
    const m: Record<string, unknown> = await trainer.evaluate();
    return typeof m.eval_loss === "number" ? { ...m, perplexity: Math.exp(m.eval_loss) } : m;
  } finally {
    trainer.model = model;
  }
}

export const causalLMTask = registerTask({
  name: "causal-lm",
  description: "causal language modelling: instruction/chat tuning (loss on responses) or packed plain text; loss and perplexity",
  taskType: "CAUSAL_LM",
  hasLabelSet: false,
  architecture: /CausalLM|LMHead/,
  loadModel: (dir, _labels, opts) => AutoModelForCausalLM.fromPretrained(dir, headOptions({}, opts)),
  prepare,
  evaluate,
  alignment: "next-token",
  instructionRows: true,
});
