// The table of tasks: name → recipe. Each task file registers itself once (seq_cls_task.ts, …);
// tasks/all.ts imports them all. Library users and the CLI look tasks up here.

import { ConfigError } from "../../tensor/errors.js";
import type { Task } from "./task.js";

const TASKS = new Map<string, Task>();

/** Registers a task under its name (a second registration of a name is an error). */
export function registerTask(task: Task): Task {
  if (TASKS.has(task.name)) throw new ConfigError(`task '${task.name}' is already registered`);
  TASKS.set(task.name, task);
  return task;
}

/** The task registered as `name`, or a ConfigError listing the known names. */
export function getTask(name: string): Task {
  const t = TASKS.get(name);
  if (!t) throw new ConfigError(`unknown task '${name}'; expected one of: ${taskNames().join(", ")}`);
  return t;
}

export function hasTask(name: string): boolean {
  return TASKS.has(name);
}

/** Registered task names, in registration order. */
export function taskNames(): string[] {
  return [...TASKS.keys()];
}

export function registeredTasks(): Task[] {
  return [...TASKS.values()];
}

/** The task an adapter's task_type was trained for (first registered wins). */
export function taskForTaskType(taskType: string): Task | undefined {
  return registeredTasks().find((t) => t.taskType === taskType);
}

/** The task a checkpoint's architectures name (e.g. LlamaForSequenceClassification → seq-cls). */
export function taskForArchitectures(architectures: readonly string[]): Task | undefined {
  return registeredTasks().find((t) => architectures.some((a) => t.architecture.test(a)));
}
