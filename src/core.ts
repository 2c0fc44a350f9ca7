// The public API of peft-ts that runs anywhere (Node and browsers): src/index.ts adds the Node-only
// parts to it, src/browser.ts the browser's file and backend helpers. No Node built-ins below here.
export { Tensor, tensor } from "./tensor/tensor.js";
export type { NestedArray } from "./tensor/tensor.js";
export type { DType } from "./tensor/dtype.js";
export { noGrad, enableGrad, isGradEnabled } from "./tensor/autograd.js";
export { Rng, globalRng, manualSeed } from "./tensor/random.js";
export { PeftError, FormatError, ConfigError, ShapeError, DistributedError } from "./tensor/errors.js";
export { getBackend, setBackend, useBackend } from "./backend/registry.js";
export { createWasmBackend, createWasmBackendAsync, WASM_FILES } from "./backend/wasm/index.js";
export type { WasmBackend, WasmBackendOptions, WasmModuleSet, WasmVariant } from "./backend/wasm/index.js";
export { initDistributed, getProcessGroup } from "./dist/init.js";
export type { InitDistributedOptions } from "./dist/init.js";
export { LocalGroup } from "./dist/process_group.js";
export type { ProcessGroup, CommHandle } from "./dist/process_group.js";
export { parallelLayout } from "./dist/layout.js";
export type { ParallelLayout } from "./dist/layout.js";
export * as ops from "./ops/index.js";
export { Module, ModuleList } from "./nn/module.js";
export { Linear, Embedding, LayerNorm, RMSNorm, Dropout } from "./nn/layers.js";
// quantised frozen bases (8-bit / 4-bit, QLoRA): formats, config, layer, preparation, merge report
export { QuantLinear } from "./nn/quant_linear.js";
export { BitsAndBytesConfig } from "./quant/bnb_config.js";
export type { BitsAndBytesOptions, Bnb4bitQuantType, BnbComputeDtype } from "./quant/bnb_config.js";
export { registerQuantFormat, getQuantFormat, quantFormatNames, dequantize, quantMatrixBytes } from "./quant/format.js";
export type { QuantFormat, QuantMatrix, QuantizeOptions, NestedAbsmax } from "./quant/format.js";
export { NF4_CODE, FP4_CODE } from "./quant/codes.js";
export { quantizeModel } from "./models/quantize.js";
export { prepareModelForKbitTraining } from "./train/kbit_training.js";
export type { KbitTrainingOptions } from "./train/kbit_training.js";
export type { QuantMergeError, QuantMergeMode } from "./peft/quant_merge.js";

// io: formats at the edges
export { AutoTokenizer, PreTrainedTokenizer, Llama2cTokenizer } from "./io/tokenizer.js";
export type { BatchEncoding, EncodingWithOffsets, CallOptions, ChatMessage, DecodeOptions, TokenizerLoadOptions } from "./io/tokenizer.js";
export { MarianTokenizer } from "./io/marian_tokenizer.js";
export { SentencePieceProcessor } from "./io/sentencepiece.js";
export type { SpmEncoding } from "./io/sentencepiece.js";
export { readSentencePieceModel } from "./io/sentencepiece_model.js";
export type { SpmModel, SpmPiece } from "./io/sentencepiece_model.js";
export { loadSafetensors, loadSafetensorsDir, saveSafetensors, readSafetensorsHeader } from "./io/safetensors.js";
export { resolveModelDir } from "./io/hub.js";
export { readLlama2c, convertLlama2c, hfConfigFromLlama2c } from "./io/llama2c.js";
// GGUF (llama.cpp / Ollama): reading, writing, ggml block codecs, Llama models and LoRA adapters
export { GgufFile, readGgufHeader, ggufPlain } from "./io/gguf_reader.js";
export { writeGguf, gguf } from "./io/gguf_writer.js";
export type { GgufWriteInput, GgufWriteTensor } from "./io/gguf_writer.js";
export { GgufType, GGML_TYPES, ggmlTypeName, ggmlTypeByName } from "./io/gguf_types.js";
export type { GgufHeader, GgufTensorInfo, GgufValue } from "./io/gguf_types.js";
export { hfConfigFromGguf, ggufToHfName, hfToGgufName } from "./io/gguf_llama.js";
export { ggufTokenizerJson } from "./io/gguf_tokenizer.js";
export { ggufTokenizerMetadata } from "./io/gguf_tokenizer_export.js";
export { GGML_CODECS, ggmlCodecForType, dequantizeGgml } from "./quant/ggml_blocks.js";
export type { GgmlCodec } from "./quant/ggml_blocks.js";
export { loadGgufCausalLM } from "./models/gguf_load.js";
export type { GgmlQuantizedTensor, GgufCausalLM } from "./models/gguf_load.js";
export { exportLlamaGguf, GGUF_OUTTYPES } from "./models/gguf_export.js";
export type { GgufExportOptions, GgufOuttype } from "./models/gguf_export.js";
export { exportLoraAdapterGguf } from "./peft/gguf_adapter_export.js";
export { atomicWriteFile, atomicWriteDir } from "./io/fs.js";
// the file system the library reads and writes through (Node: node:fs; browser: memory)
export { getFiles, setFiles } from "./platform/files.js";
export type { Files, FileStat, ReadHandle, WriteSink } from "./platform/files.js";
export { MemoryFiles } from "./platform/memory_files.js";
export { AutoConfig, parseConfig, loadConfig } from "./io/hf_config.js";
export type { PretrainedConfig, BertConfig, GPT2Config, LlamaConfig, ProblemType } from "./io/hf_config.js";

// models
export {
  AutoModel, AutoModelForSequenceClassification, AutoModelForTokenClassification, AutoModelForQuestionAnswering,
  AutoModelForCausalLM, AutoModelForMaskedLM, AutoModelForSeq2SeqLM,
} from "./models/auto.js";
export { PreTrainedModel } from "./models/modeling_utils.js";
export type { ModelInputs, ModelOutput, KeyValue, LoadOptions } from "./models/modeling_utils.js";
export { BertModel } from "./models/bert.js";
export { BertForSequenceClassification, BertForTokenClassification, BertForQuestionAnswering, BertForMaskedLM } from "./models/bert_heads.js";
export {
  DistilBertModel, DistilBertForSequenceClassification, DistilBertForTokenClassification, DistilBertForQuestionAnswering,
  DistilBertForMaskedLM,
} from "./models/distilbert.js";
export { GPT2Model, GPT2LMHeadModel, GPT2ForSequenceClassification } from "./models/gpt2.js";
export { LlamaModel, LlamaForCausalLM, LlamaForSequenceClassification } from "./models/llama.js";
// encoder-decoders: T5, BART, Marian; generate() runs them too (generate_seq2seq.ts)
export { T5ForConditionalGeneration, T5EncoderModel } from "./models/t5.js";
export { BartForConditionalGeneration, MarianMTModel } from "./models/bart.js";
export { T5Model, BartModel, MarianModel } from "./models/seq2seq_base.js";
export type { Seq2SeqModelOutput } from "./models/seq2seq_base.js";
export { isEncoderDecoder, shiftTokensRight } from "./models/seq2seq.js";
export type { Seq2SeqInputs, Seq2SeqOutput, Seq2SeqLayerCache } from "./models/seq2seq.js";
// tensor parallelism (Megatron style): models/parallel.ts, nn/parallel, ops/parallel.ts
export {
  parallelizeModel, fromPretrainedTensorParallel, buildTensorParallel, loadShardedWeights, TENSOR_PARALLEL_MODEL_TYPES,
} from "./models/parallel.js";
export {
  ColumnParallelLinear, RowParallelLinear, VocabParallelEmbedding, isParallelLinear, gatherShard, gradNormSquared, shardSpecOf, splitSizes,
  tensorParallelGroupOf,
} from "./nn/parallel/index.js";
export type { ShardSpec, ParallelLinear } from "./nn/parallel/index.js";
export { copyToParallel, reduceFromParallel, gatherFromParallel, vocabParallelCrossEntropy } from "./ops/parallel.js";
export type { VocabParallelCEOptions } from "./ops/parallel.js";
export { Conv1D } from "./nn/conv1d.js";
export { generate } from "./models/generate.js";
export type { GenerateOptions } from "./models/generate.js";
export { beamSearch } from "./models/beam_search.js";
export type { BeamSearchModel, BeamSearchOptions } from "./models/beam_search.js";

// PEFT
export {
  getPeftModel, PeftModel, PeftConfig, LoraConfig, IA3Config, PromptTuningConfig, PrefixTuningConfig,
  PromptEncoderConfig, LNTuningConfig, LoHaConfig, LoKrConfig, VeraConfig, AdaLoraConfig, applyBitFit,
  loadPeftConfig, configFromJSON, registerPeftMethod, registeredPeftMethods, peftMethodByCliName, peftConfigFromCli, peftCliFields,
  TENSOR_PARALLEL_PEFT_METHODS,
} from "./peft/index.js";
export type {
  PeftType, TaskType, LoraConfigOptions, IA3ConfigOptions, PeftModelOptions, PeftMethod, PeftCliField, PeftCliKind, PeftCliContext,
} from "./peft/index.js";

// training
export {
  Trainer, TrainingArguments, TrainingError, TrainingInterrupted, EarlyStoppingCallback, TrainerState, TrainerControl,
  defaultDataCollator, AdamW, SGD, Adafactor, Optimizer, FlatGrads, defaultParamGroups, decayParameterNames,
  getScheduler, lrLambda, LambdaLR, ReduceLROnPlateau, SCHEDULER_TYPES, clipGradNorm, gradNorm,
  GradScaler, storeFrozenWeights, checkpoint, enableGradientCheckpointing, disableGradientCheckpointing,
  getLastCheckpoint, renderReport,
} from "./train/index.js";
export type {
  TrainerOptions, TrainOutput, TrainerDataset, DataCollator, EvalPrediction, ComputeMetrics,
  TrainerCallback, CallbackEvent, LogEntry, SchedulerType, LRScheduler, TrainingArgumentsInit,
} from "./train/index.js";
// run reports (report.html, compare pages) from a run dir's files
export {
  loadRun, renderRunReport, renderComparePage, writeRunReport, writeCompareReport, runSummary,
  formatNumber, formatCount, formatPercent, formatDuration, formatMetric, niceTicks,
} from "./report/index.js";
export type { RunData, ReportOptions, SummaryItem } from "./report/index.js";
// differential privacy accounting (Opacus-shaped)
export { RDPAccountant, GDPAccountant, createAccountant, getNoiseMultiplier, computeRdp, privacySpent, GhostClipper, dpModelCardSection } from "./train/index.js";
export { withGradCapture, gradCapture, type GradCapture } from "./ops/grad_capture.js";
export type { MechanismStep, HistoryEntry, PrivacySpent, NoiseMultiplierOptions } from "./train/index.js";

// distillation and alignment
export { Distiller } from "./distill/distiller.js";
export type { DistillerOptions } from "./distill/distiller.js";
export {
  kdLoss, softCrossEntropy, distillationLoss, hiddenStateLoss, attentionLoss, targetAlignmentLoss,
  targetAlignmentFromLogits, ProjectedHiddenLoss, constantSchedule, linearSchedule, cosineSchedule,
  initStudentFromTeacher, initStudentFromPretrained, checkDistillCompatible, TeacherLogitCache, DistillationObjective,
} from "./distill/index.js";

// data and metrics
export {
  Dataset as TableDataset, IterableDataset, JsonlFileDataset, loadDataset, trainTestSplit, readCsv, readJson, readJsonl,
  readConll, readParquet, iterateJsonl, iterateJsonlSync,
  DataCollatorWithPadding, DataCollatorForTokenClassification, DataCollatorForCausalLM, DataCollatorForSeq2Seq,
  preprocessSeq2Seq, translationTask, summarizationTask,
  preprocessSeqCls, preprocessTokenCls, prepareQaTrainFeatures, prepareQaEvalFeatures, postprocessQaPredictions,
  packTexts, packBlocks, encodeInstruction, preprocessInstructions, MultiTaskSampler,
  registerTask, getTask, taskNames, registeredTasks, headOptions, seqClsTask, tokenClsTask, qaTask, causalLMTask,
} from "./data/index.js";
export type { Task, TaskOptions, PreparedTask, LabelInfo, TaskEvaluator } from "./data/index.js";
export * as metrics from "./data/metrics.js";

// interpretability: attributions, attention rollout, what the adapter changed
export {
  integratedGradients, gradientXInput, attentionRollout, rolloutExplain, integrationPoints, gaussLegendre, INTEGRATION_METHODS,
  adapterDelta, adapterDeltaFromTensors, adapterDeltaJSON, effectiveRank, loraDeltaSingularValues, formatAdapterDelta,
} from "./explain/index.js";
export type {
  Attribution, AttributionOptions, IntegratedGradientsOptions, IntegratedGradientsResult, RolloutResult, IntegrationMethod,
  AttributionTarget, ResolvedTarget, TargetOutput, Baseline, ExampleInput, ExplainableModel, ModuleDelta, LoraScalingConfig,
} from "./explain/index.js";
