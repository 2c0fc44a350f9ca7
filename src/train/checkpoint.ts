// checkpoint-<step>/ folders: model weights (the PEFT adapter layout for a PeftModel, else
// model.savePretrained, else model.safetensors of the trainable parameters), optimizer.safetensors,
// scheduler.json, rng_state.json, trainer_state.json and training_args.json. Each folder is
// built in a temporary sibling and renamed into place, so a crash never leaves a partial
// checkpoint that "latest" would pick up; a write that fails (disk full, read-only) ends in a
// TrainingError naming the folder and the file, with nothing of the new folder left behind; the
// temporary folders of a killed run are removed (or put back) when the next run starts.

import { getFiles } from "../platform/files.js";
import { processAlive } from "../platform/env.js";
import { join, resolve } from "../platform/paths.js";
import { atomicWriteDir, staysInside } from "../io/fs.js";
import { readJsonFileChecked } from "../io/json.js";
import { loadSafetensors, saveSafetensors } from "../io/safetensors.js";
import { readAdapterWeights, loadAdapterWeights } from "../peft/save_load.js";
import { PeftModel } from "../peft/peft_model.js";
import { sliceAdapterTensors } from "../peft/tp.js";
import type { Module } from "../nn/module.js";
import { noGrad } from "../tensor/autograd.js";
import { ConfigError, FormatError } from "../tensor/errors.js";
import type { RngState } from "../tensor/random.js";
import { ioReason, isIoError, TrainingError } from "./trainer_errors.js";

export const PREFIX_CHECKPOINT_DIR = "checkpoint";
const CKPT_RE = /^checkpoint-(\d+)$/;

export interface RngCheckpoint {
  /** The global generator (init, dropout). */
  global: RngState;
  /** The data-order generator at the start of the current epoch, and the position in it. */
  data_epoch_start: RngState;
  epoch: number;
  batches_done_in_epoch: number;
  /** fp16 loss scaler, when used. */
  grad_scaler?: { scale: number; growth_tracker: number } | null;
}

function readJson(path: string): Record<string, unknown> {
  if (!getFiles().exists(path)) throw new FormatError(`${path}: missing`);
  const v = readJsonFileChecked(path, "checkpoint JSON");
  if (!v || typeof v !== "object" || Array.isArray(v)) throw new FormatError(`${path}: not a valid JSON object (found ${JSON.stringify(v)?.slice(0, 40)})`);
  return v as Record<string, unknown>;
}
export { readJson };

/** checkpoint-N folders in outputDir, oldest first (by step). */
export function sortedCheckpoints(outputDir: string): string[] {
  if (!getFiles().exists(outputDir)) return [];
  return getFiles().readdir(outputDir)
    // a checkpoint-N that is a symlink leading out of outputDir is not ours to resume from or rotate away
    .filter((n) => CKPT_RE.test(n) && staysInside(outputDir, n) && getFiles().stat(join(outputDir, n)).isDirectory)
    .sort((a, b) => Number(CKPT_RE.exec(a)![1]) - Number(CKPT_RE.exec(b)![1]))
    .map((n) => join(outputDir, n));
}

/** The newest complete checkpoint (has trainer_state.json), or null. */
export function getLastCheckpoint(outputDir: string): string | null {
  const all = sortedCheckpoints(outputDir).filter((d) => getFiles().exists(join(d, "trainer_state.json")));
  return all.length ? all[all.length - 1] : null;
}

/** A path, "latest" (or true) → the checkpoint folder to resume from. */
export function resolveResume(spec: string | boolean, outputDir: string): string {
  if (spec === true || spec === "latest" || spec === "true") {
    const last = getLastCheckpoint(outputDir);
    if (!last) throw new ConfigError(`resume_from_checkpoint: no valid checkpoint found in output directory (${outputDir})`);
    return last;
  }
  const dir = resolve(String(spec));
  if (!getFiles().exists(join(dir, "trainer_state.json"))) throw new ConfigError(`resume_from_checkpoint: ${dir} is not a checkpoint folder (no trainer_state.json)`);
  return dir;
}

/** Writes the model's weights in its own layout. */
export async function saveModelWeights(model: Module, dir: string): Promise<void> {
  if (model instanceof PeftModel) return model.savePretrained(dir);
  const sp = (model as unknown as { savePretrained?: (d: string) => Promise<void> }).savePretrained;
  if (typeof sp === "function") return sp.call(model, dir);
  const t = new Map();
  for (const [n, p] of model.namedParameters()) if (p.requiresGrad) t.set(n, p.contiguous().detach());
  saveSafetensors(join(dir, "model.safetensors"), t, { format: "pt" });
}

/** Copies the trainable weights saved by saveModelWeights back into the model (in place). */
export function loadModelWeights(model: Module, dir: string): void {
  if (model instanceof PeftModel) {
    const name = model.activeAdapter;
    const tensors = readAdapterWeights(dir);
    const entries = model.adapterStateEntries(name, true);
    // a tensor-parallel model takes its slice of the full saved tensors
    loadAdapterWeights(entries, sliceAdapterTensors(entries, tensors), dir, (m) => { throw new FormatError(m); });
    return;
  }
  const path = join(dir, "model.safetensors");
  if (!getFiles().exists(path)) throw new FormatError(`${dir}: no model.safetensors`);
  const tensors = loadSafetensors(path);
  noGrad(() => {
    for (const [n, p] of model.namedParameters()) {
      if (!p.requiresGrad) continue;
      const t = tensors.get(n);
      if (!t) throw new FormatError(`${path}: trainable parameter '${n}' is missing`);
      if (t.size !== p.size) throw new FormatError(`${path}: '${n}' has ${t.size} values, the model has ${p.size}`);
      (p.data as Float32Array).set(t.f32());
    }
  });
}

export interface CheckpointWriter {
  model(dir: string): Promise<void>;
  optimizer(path: string): void;
  scheduler(): unknown;
  rng(): RngCheckpoint;
  trainerState(): unknown;
  trainingArgs(): unknown;
}

/**
 * Builds checkpoint-<step> atomically; returns its path. An operating-system error (ENOSPC,
 * EROFS…) becomes a TrainingError naming the folder, the file being written and the reason; the
 * temporary folder is removed, so the folders already there are all that is left.
 */
export async function writeCheckpoint(outputDir: string, step: number, w: CheckpointWriter, saveOnlyModel = false): Promise<string> {
  const dir = join(outputDir, `${PREFIX_CHECKPOINT_DIR}-${step}`);
  const json = (v: unknown) => JSON.stringify(v, null, 2) + "\n";
  let writing = "the temporary folder";
  const file = (tmp: string, name: string, data: string) => {
    writing = name;
    getFiles().writeFile(join(tmp, name), data);
  };
  try {
    await atomicWriteDir(dir, async (tmp) => {
      writing = "the model weights";
      await w.model(tmp);
      if (!saveOnlyModel) {
        writing = "optimizer.safetensors";
        w.optimizer(join(tmp, "optimizer.safetensors"));
        file(tmp, "scheduler.json", json(w.scheduler()));
        file(tmp, "rng_state.json", json(w.rng()));
      }
      file(tmp, "training_args.json", json(w.trainingArgs()));
      // written last: its presence marks a complete checkpoint
      file(tmp, "trainer_state.json", json(w.trainerState()));
      writing = "the folder (fsync and rename into place)";
    });
  } catch (e) {
    if (!isIoError(e)) throw e;
    const previous = getLastCheckpoint(outputDir);
    throw new TrainingError(`checkpoint ${dir} could not be written (${writing}): ${ioReason(e)}; ` +
      `no partial folder was left and the earlier checkpoints are intact (latest: ${previous ?? "none"}); ` +
      `free space or choose another output_dir, then resume from the latest`);
  }
  return dir;
}

/** The temporary siblings atomicWriteDir makes: .checkpoint-N.tmp-<pid>-<hex> (being built), .checkpoint-N.old-<pid>-<hex> (being replaced). */
const PARTIAL_RE = /^\.(checkpoint-\d+)\.(tmp|old)-(\d+)-[0-9a-f]+$/;

/**
 * Removes what a killed run left mid-save in outputDir: a half-built temporary folder is deleted;
 * a complete checkpoint moved aside to be replaced is put back when the replacement never arrived.
 * Folders of a process still running are left alone. Returns the names handled.
 */
export function cleanPartialCheckpoints(outputDir: string): string[] {
  if (!getFiles().exists(outputDir)) return [];
  const done: string[] = [];
  for (const name of getFiles().readdir(outputDir)) {
    const m = PARTIAL_RE.exec(name);
    if (!m || processAlive(Number(m[3]))) continue;
    const path = join(outputDir, name), target = join(outputDir, m[1]);
    if (m[2] === "old" && !getFiles().exists(target)) getFiles().rename(path, target);
    else getFiles().rm(path, { recursive: true, force: true });
    done.push(name);
  }
  return done;
}

/**
 * HF _rotate_checkpoints: keeps the newest `limit` checkpoints; the best checkpoint is never
 * deleted (it is moved to the "newest" end before counting). Returns the deleted folders.
 */
export function rotateCheckpoints(outputDir: string, limit: number | null, bestCheckpoint: string | null): string[] {
  if (limit === null || limit <= 0) return [];
  let ckpts = sortedCheckpoints(outputDir);
  if (ckpts.length <= limit) return [];
  let keep = limit;
  const best = bestCheckpoint ? resolve(bestCheckpoint) : null;
  if (best) {
    const i = ckpts.findIndex((c) => resolve(c) === best);
    if (i >= 0) {
      ckpts = [...ckpts.slice(0, i), ...ckpts.slice(i + 1), ckpts[i]];
      // HF: with limit 1 and a best checkpoint that is not the newest, keep two (best + newest)
      if (limit === 1 && i !== sortedCheckpoints(outputDir).length - 1) keep = 2;
    }
  }
  const n = Math.max(0, ckpts.length - keep);
  const doomed = ckpts.slice(0, n);
  for (const d of doomed) getFiles().rm(d, { recursive: true, force: true });
  return doomed;
}
