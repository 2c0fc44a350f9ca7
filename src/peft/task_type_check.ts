// An adapter's task_type must fit the model it goes on: SEQ_2_SEQ_LM adapters need an
// encoder–decoder (T5, …), and an encoder–decoder takes no decoder-only or encoder head task.
import { ConfigError } from "../tensor/errors.js";
import type { PreTrainedModel } from "../models/modeling_utils.js";
import { isEncoderDecoder } from "../models/seq2seq.js";
import type { PeftConfig } from "./config.js";

/** Task types an encoder–decoder model accepts (null: no task wrapper). */
const ENCODER_DECODER_TASKS = new Set(["SEQ_2_SEQ_LM", "FEATURE_EXTRACTION"]);

export function checkTaskFitsModel(config: PeftConfig, model: PreTrainedModel): void {
  const task = config.taskType;
  if (task === null) return;
  const arch = `${model.architectureName} (model_type ${model.config.modelType})`;
  if (task === "SEQ_2_SEQ_LM" && !isEncoderDecoder(model)) {
    throw new ConfigError(`task_type SEQ_2_SEQ_LM needs an encoder-decoder model (T5, ...), but ${arch} has no decoder over an encoder; use CAUSAL_LM for decoder-only models`);
  }
  if (isEncoderDecoder(model) && !ENCODER_DECODER_TASKS.has(task)) {
    throw new ConfigError(`task_type ${task} does not fit the encoder-decoder ${arch}; use SEQ_2_SEQ_LM`);
  }
}
