// The training layer's public surface (re-exported from src/index.ts).
export { TrainingArguments, camelToSnake, snakeToCamel, OPTIM_NAMES, TRAINING_FIELDS, trainingFieldList } from "./args.js";
export type { TrainingArgumentsInit, TrainingValues, TrainingField, TrainingFieldKind, TrainingFieldName, IntervalStrategy, SaveStrategy, OptimName } from "./args.js";
export { Trainer, TrainingError, TrainingInterrupted, defaultDataCollator } from "./trainer.js";
export type { TrainerOptions, TrainOutput, TrainerDataset, DataCollator, EvalPrediction, ComputeMetrics, Batch as TrainerBatch } from "./trainer.js";
export { TrainerState, TrainerControl, EarlyStoppingCallback } from "./callbacks.js";
export type { TrainerCallback, CallbackEvent, LogEntry } from "./callbacks.js";
export { getScheduler, lrLambda, LambdaLR, ReduceLROnPlateau, SCHEDULER_TYPES, warmupStepsFor } from "./schedule.js";
export type { SchedulerType, ScheduleOptions, LRScheduler, SchedulerState } from "./schedule.js";
export { clipGradNorm, gradNorm } from "./clip.js";
export { DdpStats, hiddenShare } from "./ddp_grads.js";
export type { DdpStepStats } from "./ddp_grads.js";
export { GradScaler, storeFrozenWeights } from "./amp.js";
export { checkpoint, enableGradientCheckpointing, disableGradientCheckpointing } from "./grad_checkpoint.js";
export { getLastCheckpoint, sortedCheckpoints, rotateCheckpoints } from "./checkpoint.js";
export { renderReport, plotsFromLogHistory } from "./report.js";
export * from "./optim/index.js";
export { RDPAccountant, GDPAccountant, createAccountant, getNoiseMultiplier, computeRdp, privacySpent, GhostClipper, dpModelCardSection } from "./dp/index.js";
export type { MechanismStep, HistoryEntry, PrivacySpent, NoiseMultiplierOptions } from "./dp/index.js";
