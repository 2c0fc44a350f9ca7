// SIGINT/SIGTERM during training: the first signal asks the Trainer to stop after the current
// step; it writes a checkpoint, then train() rejects with TrainingInterrupted (exit status
// 128 + the signal's number by convention: 130, 143). A second signal ends the process at once
// (checkpoints are written atomically, so that leaves at most the previous complete one).

/** What handleStopSignals needs of a Trainer. */
export interface StoppableTrainer {
  requestStop(signal: string): void;
  yieldEachStep: boolean;
  readonly processGroup: { worldSize: number };
}

const NUMBERS: Record<string, number> = { SIGINT: 2, SIGTERM: 15 };

/**
 * Installs the handlers for the run of one train() call; returns the function that removes them.
 * Multi-process runs keep the default behaviour (the ranks would see the signal at different
 * steps and wait on each other's collectives): nothing is installed there.
 */
export function handleStopSignals(trainer: StoppableTrainer, signals: ("SIGINT" | "SIGTERM")[] = ["SIGINT", "SIGTERM"]): () => void {
  if (trainer.processGroup.worldSize > 1) return () => {};
  let received = 0;
  const handler = (signal: NodeJS.Signals) => {
    received++;
    if (received > 1) {
      process.stderr.write(`peft-ts: ${signal} again: stopping now, without a new checkpoint\n`);
      process.exit(128 + (NUMBERS[signal] ?? 0));
    }
    process.stderr.write(`peft-ts: ${signal}: writing a checkpoint after the current step, then stopping (send it again to stop at once)\n`);
    trainer.requestStop(signal);
  };
  for (const s of signals) process.on(s, handler);
  trainer.yieldEachStep = true;
  return () => {
    for (const s of signals) process.off(s, handler);
    trainer.yieldEachStep = false;
  };
}
