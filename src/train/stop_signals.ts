// SIGINT/SIGTERM during training: the first signal asks the Trainer to stop after the current
// step; it writes a checkpoint, then train() rejects with TrainingInterrupted (exit status
// 128 + the signal's number by convention: 130, 143). A second signal ends the process at once
// (checkpoints are written atomically, so that leaves at most the previous complete one).
//
// Under MPI (world size > 1) SIGUSR1 counts too: OpenMPI's mpirun forwards it to every rank
// without killing them (on SIGINT/SIGTERM it kills the ranks a few seconds later), so our
// launcher turns its own SIGINT/SIGTERM into a SIGUSR1 to mpirun. The ranks see the signal at
// different moments: after every optimizer step they agree (agreedStop, one tiny allgather) on
// whether some rank was asked to stop, so they all stop, and checkpoint, at the same step.

import { constants } from "node:os";
import type { ProcessGroup } from "../dist/process_group.js";

/** What handleStopSignals needs of a Trainer. */
export interface StoppableTrainer {
  requestStop(signal: string): void;
  yieldEachStep: boolean;
  /** Asks the other ranks after each step whether one of them was signalled (agreedStop; null: this rank alone). */
  agreeOnStop: ((group: ProcessGroup, local: string | null) => string | null) | null;
  readonly processGroup: { worldSize: number };
}

type StopSignal = "SIGINT" | "SIGTERM" | "SIGUSR1";

const signalNumber = (s: string): number => constants.signals[s as NodeJS.Signals] ?? 0;

/** Installs the handlers for the run of one train() call; returns the function that removes them. */
export function handleStopSignals(trainer: StoppableTrainer, signals?: StopSignal[]): () => void {
  const multi = trainer.processGroup.worldSize > 1;
  const names = signals ?? (multi ? ["SIGINT", "SIGTERM", "SIGUSR1"] : ["SIGINT", "SIGTERM"]);
  let received = 0;
  const handler = (signal: NodeJS.Signals) => {
    received++;
    if (received > 1) {
      process.stderr.write(`peft-ts: ${signal} again: stopping now, without a new checkpoint\n`);
      process.exit(128 + signalNumber(signal));
    }
    process.stderr.write(`peft-ts: ${signal}: writing a checkpoint after the current step, then stopping (send it again to stop at once)\n`);
    trainer.requestStop(signal);
  };
  for (const s of names) process.on(s, handler);
  trainer.yieldEachStep = true;
  trainer.agreeOnStop = multi ? agreedStop : null;
  return () => {
    for (const s of names) process.off(s, handler);
    trainer.yieldEachStep = false;
    trainer.agreeOnStop = null;
  };
}

/**
 * Collective (every rank calls it after the same step): the signal that the lowest signalled rank
 * received, or null when no rank was asked to stop. `local`: this rank's request, if any.
 */
export function agreedStop(group: ProcessGroup, local: string | null): string | null {
  const all = group.allgather(new Float32Array([local ? signalNumber(local) || -1 : 0]));
  const first = all.find((n) => n !== 0);
  if (first === undefined) return null;
  if (first === -1) return local ?? "a stop request";
  return Object.entries(constants.signals).find(([, n]) => n === first)?.[0] ?? `signal ${first}`;
}
