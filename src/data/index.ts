// Public surface of src/data: datasets, collators, task pipelines and metrics, and the task registry.
import "./tasks/all.js";
export * from "./datasets.js";
export * from "./collate.js";
export * from "./metrics.js";
export * from "./tasks/seq_cls.js";
export * from "./tasks/token_cls.js";
export * from "./tasks/qa.js";
export * from "./tasks/causal_lm.js";
export * from "./tasks/multitask.js";
export type { TaskTokenizer } from "./tasks/types.js";
export * from "./tasks/predictions.js";
export { registerTask, getTask, hasTask, taskNames, registeredTasks, taskForTaskType, taskForArchitectures } from "./tasks/registry.js";
export { headOptions } from "./tasks/task.js";
export type { Task, TaskOptions, PreparedTask, LabelInfo, TaskEvaluator, TaskCollator, TaskMetrics } from "./tasks/task.js";
export { seqClsTask } from "./tasks/seq_cls_task.js";
export { tokenClsTask } from "./tasks/token_cls_task.js";
export { qaTask } from "./tasks/qa_task.js";
export { causalLMTask } from "./tasks/causal_lm_task.js";
