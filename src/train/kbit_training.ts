// peft's prepare_model_for_kbit_training for a quantised base (QuantLinear layers): every base
// parameter frozen, the non-quantised ones (norms, embeddings, the head) held in f32, and gradient
// checkpointing switched on. peft also calls enable_input_require_grads so that torch's reentrant
// checkpoint sees a grad-requiring input; our checkpoint() routes the blocks' trainable parameters
// through its node itself (train/grad_checkpoint.ts), so no hook on the embeddings is needed.
import type { Module } from "../nn/module.js";
import { QuantLinear } from "../nn/quant_linear.js";
import { enableGradientCheckpointing } from "./grad_checkpoint.js";

export interface KbitTrainingOptions {
  /** peft's use_gradient_checkpointing (default true). */
  useGradientCheckpointing?: boolean;
}

/** Prepares a quantised base for adapter training in place; returns it (with the number of checkpointed blocks). */
export function prepareModelForKbitTraining<M extends Module>(model: M, opts: KbitTrainingOptions = {}): M & { checkpointedBlocks: number } {
  for (const [path, m] of model.namedModules()) {
    for (const [name, p] of m.ownParameters()) {
      if (!p) continue;
      p.requiresGrad = false;
      if (p.dtype !== "f32" && !(m instanceof QuantLinear)) {
        const f = p.to("f32");
        f.name = p.name ?? (path ? `${path}.${name}` : name);
        m.registerParameter(name, f);
      }
    }
  }
  (model as { tieWeights?: () => void }).tieWeights?.(); // a converted tied tensor is shared again
  const n = opts.useGradientCheckpointing === false ? 0 : enableGradientCheckpointing(model);
  return Object.assign(model, { checkpointedBlocks: n });
}
