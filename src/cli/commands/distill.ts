// peft-ts distill: a teacher (optionally with its adapter, merged in) teaches a student on a task.
// The student is --model_name_or_path, or the teacher with every k-th layer (--student_every_k).
// Loss = (1 − alpha)·hard-label loss + alpha·KD(T) [+ hidden_weight·hidden-state MSE]; the student
// trains in full (--peft none) or through an adapter. Writes the student, metrics.json and the
// Trainer's report to --output_dir.

import { join } from "node:path";
import { CliError } from "../errors.js";
import { isMainProcess } from "../launch.js";
import { Opts, optionalFile } from "../resolve.js";
import {
  adapterNumLabels, applyPeft, buildPeftConfig, loadTokenizer, modelDir, prepareData, resolveTask, stage,
} from "../pipeline.js";
import { evaluateTask, finishRunReport, metricLines, trainerOptions, trainingArguments, writeMetrics } from "../trainer_api.js";
import { Distiller, ProjectedHiddenLoss, initStudentFromTeacher } from "../../distill/index.js";
import { saveTrained, outputDirOf, tensorParallelLayout } from "./train.js";
import { PeftModel, peftMethodByCliName, registeredPeftMethods } from "../../peft/index.js";
import type { PreTrainedModel } from "../../models/modeling_utils.js";
import { manualSeed } from "../../tensor/random.js";
import { getTask, taskNames } from "../../data/tasks/registry.js";

export async function run(opts: Opts): Promise<number> {
  const outputDir = outputDirOf(opts);
  if (!opts.teacher_model_name_or_path) throw new CliError("--teacher_model_name_or_path is required (the model that teaches)");
  const teacherDir = modelDir(opts, "teacher_model_name_or_path");
  const teacherAdapter = optionalFile(opts, "teacher_adapter", "teacher adapter folder");
  const studentDir = opts.model_name_or_path ? modelDir(opts) : null;
  if (!studentDir && !opts.student_every_k) throw new CliError("give the student: --model_name_or_path DIR, or --student_every_k K (the teacher with every k-th layer)");
  const peftName = String(opts.peft ?? "lora");
  if (!studentDir && peftName !== "none" && !peftMethodByCliName(peftName).createTuner) {
    const mergeable = registeredPeftMethods().filter((m) => m.createTuner).map((m) => m.cliName);
    throw new CliError(`--student_every_k builds a new student; train it with --peft none or a method that merges (${mergeable.join(", ")}); a ${peftName} adapter cannot be merged into it`);
  }
  const task = resolveTask({ ...opts, adapter: opts.task ? undefined : teacherAdapter }, teacherDir);
  if (!task.alignment) throw new CliError(`distill needs a task whose logits a student can match (${taskNames().filter((n) => getTask(n).alignment).join(", ")}); got ${task.name}`);
  if (opts.seed !== undefined) manualSeed(opts.seed as number);

  stage(`loading tokenizer and data (${task.name})`);
  const tokenizer = await loadTokenizer(opts, studentDir ?? teacherDir);
  const data = await prepareData(task, tokenizer, opts, { train: true, eval: Boolean(opts.validation_file) || Boolean(opts.validation_split_percentage), modelDir: studentDir ?? teacherDir });
  // the distillation loss is a softened softmax over classes: a regression / multi-label head has none
  if (data.labels.problemType === "regression" || data.labels.problemType === "multi_label_classification") {
    throw new CliError(`distill matches the teacher's class distribution; problem_type ${data.labels.problemType} has none (train the student with 'peft-ts train')`);
  }
  const labels = { ...data.labels, ...(teacherAdapter && adapterNumLabels(teacherAdapter) ? { numLabels: adapterNumLabels(teacherAdapter) } : {}) };

  stage(`teacher: ${teacherDir}${teacherAdapter ? ` + ${teacherAdapter}` : ""}`);
  let teacher: PreTrainedModel = await task.loadModel(teacherDir, labels);
  if (teacherAdapter) {
    const pm = await PeftModel.fromPretrained(teacher, teacherAdapter, { warn: () => {} });
    if (pm.isPromptLearning) throw new CliError(`--teacher_adapter: ${pm.activeConfig.peftType} adapters cannot be merged into the teacher; use a LoRA/IA3 adapter`);
    teacher = pm.mergeAndUnload();
  }
  teacher.eval();

  let student: PreTrainedModel;
  if (studentDir) student = await task.loadModel(studentDir, labels);
  else {
    student = initStudentFromTeacher(teacher, { everyK: opts.student_every_k as number });
    stage(`student: the teacher's layers every ${opts.student_every_k} (${student.config.numHiddenLayers} of ${teacher.config.numHiddenLayers})`);
  }
  const args = trainingArguments(opts, { outputDir });
  const model = applyPeft(student, buildPeftConfig(opts, task, studentDir ?? teacherDir, args.plannedSteps(data.trainDataset!.length, tensorParallelLayout(opts).dp.worldSize).maxSteps), tokenizer);
  stage(model instanceof PeftModel ? `student ${model.trainableParametersLine()}` : `student: full training, ${student.numParameters(true).toLocaleString("en-US")} trainable parameters`);

  const alpha = (opts.alpha as number | undefined) ?? 0.5;
  const temperature = (opts.temperature as number | undefined) ?? 2;
  const hiddenWeight = opts.hidden_weight as number | undefined;
  // hidden states 0..Ls of the student ↔ uniformly spaced teacher states (0 = embeddings)
  const Ls = student.config.numHiddenLayers, Lt = teacher.config.numHiddenLayers;
  const layerMap: [number, number][] = Array.from({ length: Ls + 1 }, (_, i) => [i, Math.round((i * Lt) / Ls)]);
  const hidden = hiddenWeight ? new ProjectedHiddenLoss(student.config.hiddenSize, teacher.config.hiddenSize, { layerMap }) : undefined;
  const trainer = new Distiller({
    ...trainerOptions(model, args, data), teacher, temperature, alpha, ...(hidden ? { hidden, weights: { hidden: hiddenWeight } } : {}),
  });
  stage(`distilling (T=${temperature}, alpha=${alpha}) → ${outputDir}`);
  const trainOut = await trainer.train();
  let evalMetrics: Record<string, unknown> = {};
  if (data.evalDataset) {
    stage(`evaluating the student on ${data.evalDataset.length} examples`);
    evalMetrics = await evaluateTask(trainer, data);
  }
  // a student cut from the teacher exists nowhere else: save it whole (adapter merged in)
  const toSave = !studentDir && model instanceof PeftModel ? model.mergeAndUnload() : model;
  if (isMainProcess()) await saveTrained(toSave, studentDir ?? teacherDir, outputDir);
  stage(`saved the student ${toSave instanceof PeftModel ? "adapter" : "model"} to ${outputDir}`);
  if (!isMainProcess()) return 0;
  const metrics = writeMetrics(outputDir, { ...trainOut.metrics, ...evalMetrics });
  finishRunReport(outputDir, { task: `${task.name} (distilled from ${teacherDir})` });
  process.stdout.write(`metrics (${join(outputDir, "metrics.json")}):\n${metricLines(metrics)}\n`);
  return 0;
}
