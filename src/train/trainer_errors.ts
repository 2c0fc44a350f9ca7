// The Trainer's runtime errors: TrainingError (a run that cannot go on: non-finite losses or
// gradients, a checkpoint that cannot be written) and TrainingInterrupted (a stop asked for by
// SIGINT/SIGTERM, after the checkpoint was written); and the words for an operating-system error.

import { PeftError } from "../tensor/errors.js";

/** A training run that cannot go on (non-finite losses or gradients, a failed checkpoint write). */
export class TrainingError extends PeftError {}

const SIGNAL_NUMBERS: Record<string, number> = { SIGHUP: 1, SIGINT: 2, SIGUSR1: 10, SIGTERM: 15 };

/** Training stopped on request (a signal): the checkpoint to resume from was written first. */
export class TrainingInterrupted extends TrainingError {
  /** The conventional exit status of a process ended by the signal: 128 + its number (SIGINT 130, SIGTERM 143). */
  readonly exitCode: number;
  constructor(readonly signal: string, readonly checkpoint: string | null, readonly globalStep: number) {
    super(`training interrupted by ${signal} after step ${globalStep}; ` +
      (checkpoint ? `checkpoint saved to ${checkpoint}; resume with resume_from_checkpoint=${checkpoint} (or "true" for the latest)` : "no checkpoint was written"));
    this.exitCode = 128 + (SIGNAL_NUMBERS[signal] ?? 0);
  }
}

const REASONS: Record<string, string> = {
  ENOSPC: "no space left on the device",
  EDQUOT: "the disk quota is exceeded",
  EROFS: "the file system is read-only",
  EACCES: "permission denied",
  EPERM: "operation not permitted",
  ENOTDIR: "a path component is a file, not a folder",
  EEXIST: "a file is in the way",
  EIO: "an input/output error of the device",
  EMFILE: "too many open files",
};

/** "no space left on the device (ENOSPC)" for an fs error; the message for anything else. */
export function ioReason(e: unknown): string {
  const code = (e as NodeJS.ErrnoException | null)?.code;
  if (typeof code === "string" && REASONS[code]) return `${REASONS[code]} (${code})`;
  return e instanceof Error ? e.message : String(e);
}

/** Whether e is an operating-system error (has an errno code such as ENOSPC). */
export function isIoError(e: unknown): e is NodeJS.ErrnoException {
  return e instanceof Error && typeof (e as NodeJS.ErrnoException).code === "string" && /^E[A-Z]+$/.test((e as NodeJS.ErrnoException).code!);
}
