// Student models for distillation: DistilBERT-style initialisation from the teacher (every k-th
// layer copied, everything outside the layer stack copied as is), initialisation from a separate
// pretrained model, and the compatibility check run before training.

import { ConfigError } from "../tensor/errors.js";
import { Tensor } from "../tensor/tensor.js";
import { configToJSON, parseConfig } from "../io/hf_config.js";
import type { PretrainedConfig } from "../io/hf_config.js";
import { headKind, type PreTrainedModel } from "../models/modeling_utils.js";

export { headKind };
import type { Module } from "../nn/module.js";

/** HF config key holding the layer count, per model type. */
const LAYER_KEY: Record<string, string> = {
  bert: "num_hidden_layers", roberta: "num_hidden_layers", llama: "num_hidden_layers", mistral: "num_hidden_layers",
  qwen2: "num_hidden_layers", distilbert: "n_layers", gpt2: "n_layer",
};

/** Layer-stack parameter names: encoder.layer.N, transformer.h.N, model.layers.N, transformer.layer.N. */
const LAYER_RE = /(^|\.)(layer|layers|h)\.(\d+)\./;

/** Layer index of a parameter name, or null outside the layer stack. */
export function layerIndexOf(name: string): number | null {
  const m = LAYER_RE.exec(name);
  return m ? Number(m[3]) : null;
}

function withLayerIndex(name: string, i: number): string {
  return name.replace(LAYER_RE, (_all, pre, word) => `${pre}${word}.${i}.`);
}

/** The teacher layers a student of `everyK` keeps: 0, k, 2k, … (DistilBERT: 12 → 0,2,…,10). */
export function keptLayers(numLayers: number, everyK: number): number[] {
  if (!Number.isInteger(everyK) || everyK < 1) throw new ConfigError(`initStudentFromTeacher: everyK must be a positive integer, got ${everyK}`);
  const out: number[] = [];
  for (let i = 0; i < numLayers; i += everyK) out.push(i);
  return out;
}

type ModelCtor = new (config: PretrainedConfig) => PreTrainedModel;

/**
 * A student of the teacher's class with every k-th teacher layer (default k = 2: half the layers),
 * or the explicit `layers` list; embeddings, heads and final norms are copied. Weights are copies
 * (the student trains independently of the teacher).
 */
export function initStudentFromTeacher<M extends PreTrainedModel>(teacher: M, opts: { everyK?: number; layers?: number[] } = {}): M {
  const L = teacher.config.numHiddenLayers;
  const layers = opts.layers ?? keptLayers(L, opts.everyK ?? 2);
  for (const l of layers) if (!Number.isInteger(l) || l < 0 || l >= L) throw new ConfigError(`initStudentFromTeacher: teacher layer ${l} does not exist (teacher has ${L})`);
  if (layers.length === 0) throw new ConfigError("initStudentFromTeacher: the student needs at least one layer");
  const key = LAYER_KEY[teacher.config.modelType];
  if (!key) throw new ConfigError(`initStudentFromTeacher: model_type '${teacher.config.modelType}' is not supported`);
  const json = configToJSON(teacher.config);
  json[key] = layers.length;
  const config = parseConfig(json, `${teacher.config.source} (student with teacher layers ${layers.join(",")})`);
  const Ctor = teacher.constructor as ModelCtor;
  const student = new Ctor(config) as M;
  const src = teacher.stateDict();
  const tied = new Set(Object.keys(student.tiedWeights()));
  for (const [name, p] of student.stateDict()) {
    if (tied.has(name)) continue;
    const li = layerIndexOf(name);
    const from = li === null ? name : withLayerIndex(name, layers[li]);
    const t = src.get(from);
    if (!t) throw new ConfigError(`initStudentFromTeacher: teacher has no parameter '${from}' for student '${name}'`);
    if (t.shape.join() !== p.shape.join()) throw new ConfigError(`initStudentFromTeacher: '${from}' is [${t.shape}] but the student's '${name}' is [${p.shape}]`);
    copyInto(p, t);
  }
  student.tieWeights();
  student.train(teacher.training);
  return student;
}

function copyInto(dst: Tensor, src: Tensor): void {
  if (dst.dtype === "f32") (dst.data as Float32Array).set(src.f32());
  else (dst.data as { set(a: ArrayLike<number>): void }).set(src.to(dst.dtype).data);
}

/**
 * Loads a separately pretrained student (e.g. a smaller checkpoint of the same tokenizer) with the
 * teacher's label setup, then checks compatibility.
 */
export async function initStudentFromPretrained<M extends PreTrainedModel>(
  auto: { fromPretrained(dir: string, opts?: Record<string, unknown>): Promise<M> },
  dir: string,
  teacher: PreTrainedModel,
): Promise<M> {
  const c = teacher.config;
  const student = await auto.fromPretrained(dir, { numLabels: c.numLabels, id2label: c.id2label, label2id: c.label2id, ...(c.problemType ? { problemType: c.problemType } : {}) });
  checkDistillCompatible(teacher, student);
  return student;
}

/** The pretrained model behind a wrapper (a PeftModel's base model), or the model itself. */
export function underlyingModel(m: PreTrainedModel | Module): PreTrainedModel {
  const w = m as unknown as { getBaseModel?: () => PreTrainedModel; config?: unknown; architectureName?: string };
  if (typeof w.getBaseModel === "function") return w.getBaseModel();
  if (!w.config || typeof w.architectureName !== "string") throw new ConfigError("distillation: the student is neither a pretrained model nor a PeftModel (no config/architectureName)");
  return m as PreTrainedModel;
}


/**
 * Teacher and student must share the output space: the same vocabulary size (same tokenizer and
 * LM head width) and, for classification heads, the same number of labels. Throws ConfigError.
 */
export function checkDistillCompatible(teacher: PreTrainedModel, studentModel: PreTrainedModel | Module, what = "teacher"): void {
  const student = underlyingModel(studentModel);
  const t = teacher.config, s = student.config;
  if (t.vocabSize !== s.vocabSize) {
    throw new ConfigError(`distillation: ${what} vocab size ${t.vocabSize} differs from the student's ${s.vocabSize}; teacher and student must share the tokenizer/vocabulary`);
  }
  const tHead = headKind(teacher.architectureName), sHead = headKind(student.architectureName);
  if (tHead !== sHead) {
    throw new ConfigError(`distillation: ${what} is a ${teacher.architectureName} but the student is a ${student.architectureName}; their outputs are not comparable`);
  }
  if ((tHead === "sequence-classification" || tHead === "token-classification") && t.numLabels !== s.numLabels) {
    throw new ConfigError(`distillation: ${what} has ${t.numLabels} labels but the student has ${s.numLabels}; they must match`);
  }
}
