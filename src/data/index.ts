// Public surface of src/data: datasets, collators, task pipelines and metrics.
export * from "./datasets.js";
export * from "./collate.js";
export * from "./metrics.js";
export * from "./tasks/seq_cls.js";
export * from "./tasks/token_cls.js";
export * from "./tasks/qa.js";
export * from "./tasks/causal_lm.js";
export * from "./tasks/multitask.js";
export type { TaskTokenizer } from "./tasks/types.js";
