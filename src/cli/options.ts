// The CLI's option table. Every option has one HF snake_case name; the command line accepts it
// as --snake_case or --kebab-case, a config file (JSON/YAML) uses the snake_case key. Values
// are typed here so that flags (strings) and file values (already typed) end up the same.

import { trainingFieldList } from "../train/index.js";
import { taskNames } from "../data/tasks/registry.js";
import "../data/tasks/all.js";

export type Kind = "string" | "int" | "float" | "bool" | "list" | "json" | "path";

export interface OptSpec {
  /** HF snake_case name (the config-file key). */
  name: string;
  kind: Kind;
  help: string;
  /** Allowed values (strings) for kind "string". */
  choices?: readonly string[];
  /** Shown in --help; applied when neither the file nor the command line sets the option. */
  default?: unknown;
  /** Help section heading. */
  group: string;
  /** Single-letter alias (e.g. "o" for -o). */
  short?: string;
}

export const PEFT_METHODS = ["lora", "ia3", "prompt", "prefix", "none"] as const;
export type PeftMethodName = (typeof PEFT_METHODS)[number];

const G_MODEL = "Model and data:";
const G_PEFT = "PEFT method:";
const G_GEN = "Generation:";
const G_DISTILL = "Distillation:";
const G_TRAIN = "TrainingArguments (HF names):";
const G_MISC = "General:";

export const GROUPS = { G_MODEL, G_PEFT, G_GEN, G_DISTILL, G_TRAIN, G_MISC };

const s = (name: string, help: string, group: string, extra: Partial<OptSpec> = {}): OptSpec => ({ name, kind: "string", help, group, ...extra });
const p = (name: string, help: string, group: string, extra: Partial<OptSpec> = {}): OptSpec => ({ name, kind: "path", help, group, ...extra });
const i = (name: string, help: string, group: string, extra: Partial<OptSpec> = {}): OptSpec => ({ name, kind: "int", help, group, ...extra });
const f = (name: string, help: string, group: string, extra: Partial<OptSpec> = {}): OptSpec => ({ name, kind: "float", help, group, ...extra });
const b = (name: string, help: string, group: string, extra: Partial<OptSpec> = {}): OptSpec => ({ name, kind: "bool", help, group, ...extra });
const l = (name: string, help: string, group: string, extra: Partial<OptSpec> = {}): OptSpec => ({ name, kind: "list", help, group, ...extra });

export const GENERAL_OPTS: OptSpec[] = [
  p("config", "JSON or YAML file with these options by their snake_case names; flags override it", G_MISC, { short: "c" }),
  b("debug", "print stack traces on errors", G_MISC),
  b("print_config", "print the resolved options (defaults < config file < flags) as JSON and exit", G_MISC),
  s("backend", "compute backend (ts = reference TypeScript kernels, native = C++ addon when built)", G_MISC, { choices: ["ts", "native"] }),
];

export const MODEL_OPTS: OptSpec[] = [
  p("model_name_or_path", "model folder (config.json + model.safetensors + tokenizer files) or a hub id in the local cache", G_MODEL, { short: "m" }),
  // the registered tasks, read when the program is built (a task registered before main() is a choice)
  { name: "task", kind: "string", help: "task head to train/evaluate", group: G_MODEL, get choices() { return taskNames(); } },
  p("tokenizer_name", "tokenizer folder when it differs from the model folder", G_MODEL),
  i("num_labels", "number of classes (default: from the training labels)", G_MODEL),
];

export const DATA_OPTS: OptSpec[] = [
  p("train_file", "training data (.tsv .csv .jsonl .json .conll .txt .parquet)", G_MODEL),
  p("validation_file", "evaluation data (same formats)", G_MODEL),
  s("text_column", "column holding the text (default: sentence/text)", G_MODEL),
  s("text_pair_column", "column holding the second text of a pair", G_MODEL),
  s("label_column", "column holding the label (default: label)", G_MODEL),
  i("max_length", "truncate inputs to this many tokens", G_MODEL, { default: 128 }),
  i("max_train_samples", "use only the first N training rows", G_MODEL),
  i("max_eval_samples", "use only the first N evaluation rows", G_MODEL),
  i("doc_stride", "qa: overlap between context windows", G_MODEL, { default: 32 }),
  s("filter", "keep rows where COLUMN==VALUE (e.g. status==ok)", G_MODEL),
  i("validation_split_percentage", "without --validation_file: hold out this % of the training rows for evaluation", G_MODEL),
];

export const ADAPTER_OPTS: OptSpec[] = [
  p("adapter", "adapter folder (adapter_config.json + adapter_model.safetensors) to load on the model", G_PEFT),
];

export const PEFT_OPTS: OptSpec[] = [
  s("peft", "parameter-efficient method (none = full fine-tuning)", G_PEFT, { choices: PEFT_METHODS, default: "lora" }),
  i("lora_r", "LoRA rank r", G_PEFT, { default: 8 }),
  f("lora_alpha", "LoRA alpha (scaling = alpha / r)", G_PEFT, { default: 16 }),
  f("lora_dropout", "dropout on the LoRA input", G_PEFT, { default: 0 }),
  l("target_modules", 'modules to adapt: comma list (q_proj,v_proj), "all-linear", or a regex over full names (.*\\.(q|v)_proj); default: the model type\'s HF default', G_PEFT),
  l("modules_to_save", "extra modules trained in full and saved with the adapter (comma list)", G_PEFT),
  s("bias", "which biases train (LoRA)", G_PEFT, { choices: ["none", "all", "lora_only"] }),
  b("use_rslora", "rank-stabilised LoRA (scaling = alpha / sqrt(r))", G_PEFT),
  b("use_dora", "DoRA (weight-decomposed LoRA)", G_PEFT),
  s("init_lora_weights", "LoRA init: true, false, gaussian, pissa", G_PEFT),
  l("feedforward_modules", "IA3: the feed-forward modules among target_modules (comma list)", G_PEFT),
  i("num_virtual_tokens", "prompt/prefix tuning: number of virtual tokens", G_PEFT, { default: 8 }),
  s("prompt_tuning_init", "prompt tuning init: RANDOM, TEXT, SAMPLE_VOCAB", G_PEFT, { choices: ["RANDOM", "TEXT", "SAMPLE_VOCAB"] }),
  s("prompt_tuning_init_text", "prompt tuning: text for prompt_tuning_init TEXT", G_PEFT),
  b("prefix_projection", "prefix tuning: reparametrise the prefix through an MLP", G_PEFT),
  i("encoder_hidden_size", "prefix tuning: hidden size of the projection MLP", G_PEFT),
];

export const LOSS_OPTS: OptSpec[] = [
  s("loss", 'training loss: ce, target_alignment, or mixed weights "ce=0.5,target_alignment=0.5"', G_MODEL, { default: "ce" }),
];

export const GEN_OPTS: OptSpec[] = [
  s("prompt", "prompt text (repeat the flag or use a list in the config file for several)", G_GEN),
  p("prompt_file", "file with one prompt per line", G_GEN),
  b("chat", "interactive chat on stdin (one message per line; /reset clears the history, /exit quits)", G_GEN),
  i("max_new_tokens", "tokens to generate per prompt", G_GEN, { default: 48 }),
  b("do_sample", "sample instead of greedy decoding", G_GEN),
  f("temperature", "sampling temperature", G_GEN),
  i("top_k", "sampling: keep the k most likely tokens", G_GEN),
  f("top_p", "sampling: nucleus probability mass", G_GEN),
  f("repetition_penalty", "penalise tokens already present (> 1)", G_GEN),
  b("raw", "use the prompt as is (no instruction template)", G_GEN),
  i("seed", "random seed", G_GEN),
];

export const DISTILL_OPTS: OptSpec[] = [
  p("teacher_model_name_or_path", "teacher model folder (same tokenizer as the student)", G_DISTILL),
  p("teacher_adapter", "adapter to load on the teacher", G_DISTILL),
  f("temperature", "softmax temperature of the distillation loss", G_DISTILL, { default: 2 }),
  f("alpha", "weight of the distillation loss (1 - alpha on the hard-label loss)", G_DISTILL, { default: 0.5 }),
  f("hidden_weight", "weight of a hidden-state (MSE) loss between student and teacher", G_DISTILL),
  i("student_every_k", "without --model_name_or_path: the student is the teacher with every k-th layer (DistilBERT-style)", G_DISTILL),
];

/**
 * TrainingArguments fields as flags: derived from the Trainer layer's typed field table
 * (src/train/args.ts TRAINING_FIELDS: name, kind, HF default, help), so a field added there is a
 * flag here. Defaults are shown, not applied: the Trainer applies its own.
 */
export const TRAINING_OPTS: OptSpec[] = trainingFieldList().map((f) => ({
  name: f.name,
  kind: f.kind,
  help: f.default === null || typeof f.default === "object" ? f.help : `${f.help} (default ${JSON.stringify(f.default)})`,
  group: G_TRAIN,
  ...(f.choices ? { choices: f.choices } : {}),
  ...(f.name === "output_dir" ? { short: "o" } : {}),
}));

/** Every option known to some command, by name (first definition wins for shared names). */
export function specIndex(lists: OptSpec[][]): Map<string, OptSpec> {
  const m = new Map<string, OptSpec>();
  for (const list of lists) for (const o of list) if (!m.has(o.name)) m.set(o.name, o);
  return m;
}

/** "model_name_or_path" → "--model-name-or-path" (what commander is given). */
export function flagOf(name: string): string {
  return "--" + name.replace(/_/g, "-");
}
