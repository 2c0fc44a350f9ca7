// adapter_delta.json in a training run's output folder: what the LoRA adapter changed per module
// (src/explain/adapter_delta.ts), in the snake_case layout the training report plots.
import { join } from "node:path";
import { atomicWriteFile } from "../io/fs.js";
import { PeftModel } from "../peft/index.js";
import { LoraLayer } from "../peft/lora/layer.js";
import { isParallelLinear } from "../nn/parallel/layers.js";
import { adapterDelta, adapterDeltaJSON } from "../explain/index.js";
import type { PreTrainedModel } from "../models/modeling_utils.js";

/**
 * Writes outDir/adapter_delta.json for a LoRA PeftModel (nothing for other methods, full
 * fine-tuning, or tensor-parallel shards, whose ΔW is split over ranks). Returns the path or null.
 */
export function writeAdapterDeltaFile(model: PreTrainedModel | PeftModel, outDir: string): string | null {
  if (!(model instanceof PeftModel) || model.peftConfig.get(model.activeAdapter)?.peftType !== "LORA") return null;
  const layers = model.namedModules().filter(([, m]) => m instanceof LoraLayer).map(([, m]) => m as LoraLayer);
  if (layers.length === 0 || layers.some((l) => isParallelLinear(l.base_layer))) return null;
  const path = join(outDir, "adapter_delta.json");
  atomicWriteFile(path, JSON.stringify(adapterDeltaJSON(adapterDelta(model, model.activeAdapter)), null, 1) + "\n");
  return path;
}
