// Weights are read from safetensors only: a pickle (pytorch_model.bin, *.pt, *.ckpt, *.pth) can
// run code when unpickled and is refused with a FormatError saying how to convert it. Checked
// by name in model folders and by content (pickle protocol or torch's zip container) in any
// file opened as safetensors, so a renamed pickle is refused too.

import { getFiles } from "../platform/files.js";
import { FormatError } from "../tensor/errors.js";

/** transformers' / PEFT's pickle weight names (sharded too) and the usual torch.save extensions. */
const PICKLE_NAMES = /^(pytorch_model|adapter_model)(-\d+-of-\d+)?\.bin$|^pytorch_model\.bin\.index\.json$|\.(pt|pth|ckpt|pkl|pickle)$/;

/** How to turn a PyTorch pickle into safetensors, for error messages. */
export function conversionHint(file: string): string {
  return `convert it with transformers (model.save_pretrained(dir, safe_serialization=True)) or with ` +
    `python -c "import torch; from safetensors.torch import save_file; save_file(torch.load('${file}', weights_only=True), 'model.safetensors')"`;
}

/** The pickled weight files in `dir` (by name), first few only. */
export function pickleFilesIn(dir: string): string[] {
  let names: string[];
  try {
    names = getFiles().readdir(dir);
  } catch {
    return [];
  }
  return names.filter((n) => PICKLE_NAMES.test(n)).sort().slice(0, 5);
}

/** Throws a FormatError when `dir` holds pickled weights (and so no safetensors were found there). */
export function refusePickleWeights(dir: string): void {
  const found = pickleFilesIn(dir);
  if (found.length) {
    throw new FormatError(`${dir}: holds PyTorch pickle weights (${found.join(", ")}), which peft-ts never loads (unpickling can run code); ${conversionHint(found[0])}`);
  }
}

/** Whether the first bytes of a file are a pickle stream (PROTO opcode) or torch.save's zip container. */
export function looksLikePickle(head: Uint8Array): boolean {
  if (head.length >= 2 && head[0] === 0x80 && head[1] >= 2 && head[1] <= 5) return true;
  return head.length >= 4 && head[0] === 0x50 && head[1] === 0x4b && head[2] === 0x03 && head[3] === 0x04;
}
