// The CLI's option table. Every option has one HF snake_case name; the command line accepts it
// as --snake_case or --kebab-case, a config file (JSON/YAML) uses the snake_case key. Values
// are typed here so that flags (strings) and file values (already typed) end up the same.

import { trainingFieldList } from "../train/index.js";
import { taskNames } from "../data/tasks/registry.js";
import { peftCliFields, registeredPeftMethods } from "../peft/index.js";
import { PROBLEM_TYPES } from "../io/hf_config.js";
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

/** --peft values: every registered method's name and aliases (src/peft/registry.ts), and none = full fine-tuning. */
export function peftMethodNames(): string[] {
  return [...registeredPeftMethods().flatMap((m) => [m.cliName, ...(m.cliAliases ?? [])]), "none"];
}

const G_MODEL = "Model and data:";
const G_PEFT = "PEFT method:";
const G_GEN = "Generation:";
const G_DISTILL = "Distillation:";
const G_TRAIN = "TrainingArguments (HF names):";
const G_MISC = "General:";
const G_DIST = "Several processes:";

export const GROUPS = { G_MODEL, G_PEFT, G_GEN, G_DISTILL, G_TRAIN, G_MISC, G_DIST };

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
  s("backend", "compute backend (ts = reference TypeScript kernels, native = C++ addon when built, wasm = WebAssembly SIMD kernels)", G_MISC, { choices: ["ts", "native", "wasm"] }),
];

export const MODEL_OPTS: OptSpec[] = [
  p("model_name_or_path", "model folder (config.json + model.safetensors + tokenizer files) or a hub id in the local cache", G_MODEL, { short: "m" }),
  // the registered tasks, read when the program is built (a task registered before main() is a choice)
  { name: "task", kind: "string", help: "task head to train/evaluate", group: G_MODEL, get choices() { return taskNames(); } },
  p("tokenizer_name", "tokenizer folder when it differs from the model folder", G_MODEL),
  i("num_labels", "number of classes (default: from the training labels)", G_MODEL),
  b("ignore_mismatched_sizes", "re-initialise checkpoint weights whose shape differs from the model's (e.g. a classification head with another number of labels), as HF", G_MODEL),
  s("problem_type", "seq-cls head: regression (one float output, MSE loss), single_label_classification or multi_label_classification (default: the model config's, else single-label; regression when num_labels is 1)", G_MODEL, { choices: PROBLEM_TYPES }),
];

const G_QUANT = "Quantised base (bitsandbytes' names; QLoRA on CPU):";

/** transformers' BitsAndBytesConfig fields: the frozen base quantised at load (src/quant). */
export const QUANT_OPTS: OptSpec[] = [
  b("load_in_8bit", "store the base's Linear weights in int8 (per-row absmax, LLM.int8 storage)", G_QUANT),
  b("load_in_4bit", "store the base's Linear weights in 4 bits (blocks of 64 with an absmax each)", G_QUANT),
  s("bnb_4bit_quant_type", "4-bit code: nf4 (QLoRA's NormalFloat) or fp4 (default fp4, as transformers)", G_QUANT, { choices: ["fp4", "nf4"] }),
  b("bnb_4bit_use_double_quant", "store the 4-bit absmax constants in 8 bits too (QLoRA's double quantisation)", G_QUANT),
  s("bnb_4bit_compute_dtype", "compute dtype of the 4-bit layers (default float32)", G_QUANT, { choices: ["float32", "bfloat16", "f32", "bf16"] }),
  l("llm_int8_skip_modules", "module names kept in full precision (default: the output head and tied modules)", G_QUANT),
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
  s("source_lang", "translation: the source language key of {\"translation\": {…}} rows (or the source column)", G_MODEL, { default: "en" }),
  s("target_lang", "translation: the target language key (or the target column)", G_MODEL, { default: "de" }),
  s("summary_column", "summarization: column holding the target text (default: summary; the source is --text_column, default text)", G_MODEL),
  s("source_prefix", "translation/summarization: text put before every source (T5: \"translate English to German: \")", G_MODEL),
  i("max_source_length", "translation/summarization: truncate sources to this many tokens", G_MODEL, { default: 1024 }),
  i("max_target_length", "translation/summarization: truncate targets (labels) to this many tokens, with a warning", G_MODEL, { default: 128 }),
];

export const ADAPTER_OPTS: OptSpec[] = [
  p("adapter", "adapter folder (adapter_config.json + adapter_model.safetensors) to load on the model", G_PEFT),
];

/** --peft and the flags the registered methods declare (one entry per flag; each method reads its own). */
export const PEFT_OPTS: OptSpec[] = [
  { name: "peft", kind: "string", help: "parameter-efficient method (none = full fine-tuning)", group: G_PEFT, default: "lora", get choices() { return peftMethodNames(); } },
  ...peftCliFields().map((f): OptSpec => ({
    name: f.flag, kind: f.kind, help: f.help, group: G_PEFT,
    ...(f.default !== undefined ? { default: f.default } : {}), ...(f.choices ? { choices: f.choices } : {}),
  })),
];

/** Several processes (src/cli/launch.ts): the run is started again under mpirun. */
export const LAUNCH_OPTS: OptSpec[] = [
  i("nproc_per_node", "start this many ranks per machine under mpirun (data parallel; like torchrun --nproc_per_node); needs OpenMPI", G_DIST),
  p("hostfile", "MPI hostfile listing the machines (one per line, `HOST slots=N`); --nproc_per_node ranks run on each", G_DIST),
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
  i("num_beams", "beam search with this many beams (1 = greedy or sampling)", G_GEN),
  b("raw", "use the prompt as is (no instruction template)", G_GEN),
  i("seed", "random seed", G_GEN),
];

const G_EXPLAIN = "Explain:";
export const EXPLAIN_OPTS: OptSpec[] = [
  s("text", "the input to explain", G_EXPLAIN),
  s("label", "the class to explain (name or id; default the predicted one); causal-lm: the next token (text, or #ID), default the greedy one", G_EXPLAIN),
  s("method", "attribution method", G_EXPLAIN, { choices: ["ig", "grad_x_input", "rollout"], default: "ig" }),
  i("n_steps", "Integrated Gradients: path points", G_EXPLAIN, { default: 50 }),
  s("ig_method", "Integrated Gradients: quadrature", G_EXPLAIN, { choices: ["riemann_left", "riemann_right", "riemann_middle", "riemann_trapezoid", "gausslegendre"], default: "gausslegendre" }),
  s("baseline", "Integrated Gradients: baseline (pad = every token but the special ones replaced by the pad token; default pad, zero when the model has no pad token)", G_EXPLAIN, { choices: ["pad", "zero"] }),
  i("token_index", "token-cls: the token (index into the tokenized --text) whose label is explained", G_EXPLAIN),
  i("layer", "attention map: layer (default the last)", G_EXPLAIN),
  i("head", "attention map: head", G_EXPLAIN, { default: 0 }),
  p("output", "the HTML page to write", G_EXPLAIN, { default: "explain.html" }),
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
