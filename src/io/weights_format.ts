// Weights are read from safetensors only: a pickle (pytorch_model.bin, *.pt, *.ckpt, *.pth) can
// run code when unpickled and is refused with a FormatError saying how to convert it. Checked
// by name in model folders and by content (pickle protocol or torch's zip container) in any
// file opened as safetensors, so a renamed pickle is refused too.

import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { FormatError } from "../tensor/errors.js";

const PICKLE_NAMES = /^(pytorch_model|adapter_model|model|optimizer|scheduler|training_args|rng_state.*)(-\d+-of-\d+)?\.(bin|pt|pth|ckpt)$|\.(pt|pth|ckpt|pkl|pickle)$|^pytorch_model\.bin\.index\.json$/;

/** How to turn a PyTorch pickle into safetensors, for error messages. */
export function conversionHint(file: string): string {
  return `convert it with transformers (model.save_pretrained(dir, safe_serialization=True)) or with ` +
    `python -c "import torch; from safetensors.torch import save_file; save_file(torch.load('${file}', weights_only=True), 'model.safetensors')"`;
}

/** The pickled weight files in `dir` (by name), first few only. */
export function pickleFilesIn(dir: string): string[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  return names.filter((n) => PICKLE_NAMES.test(n)).sort().slice(0, 5);
}

/** Throws a FormatError when `dir` holds pickled weights (and so no safetensors were found there). */
export function refusePickleWeights(dir: string): void {
  const found = pickleFilesIn(dir);
  if (found.length && existsSync(join(dir, found[0]))) {
    throw new FormatError(`${dir}: holds PyTorch pickle weights (${found.join(", ")}), which peft-ts never loads (unpickling can run code); ${conversionHint(found[0])}`);
  }
}

/** Whether the first bytes of a file are a pickle stream (PROTO opcode) or torch.save's zip container. */
export function looksLikePickle(head: Uint8Array): boolean {
  if (head.length >= 2 && head[0] === 0x80 && head[1] >= 2 && head[1] <= 5) return true;
  return head.length >= 4 && head[0] === 0x50 && head[1] === 0x4b && head[2] === 0x03 && head[3] === 0x04;
}
