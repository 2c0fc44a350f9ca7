// Per-pass communication figures of the gradient buckets (DDP's allreduce, ddp_grads.ts; ZeRO
// stage 2's reduce-scatter, zero_grads.ts), collected only once enabled (`Trainer.ddpStats()`).
// Where the group keeps communication-thread counters, every bucket's collective is preceded by a
// barrier queued on the same thread while figures are collected (a zero-byte probe): the ranks'
// communication threads leave it together, so the barrier's time is the wait for the slower rank
// to arrive (peer wait) and the collective's own time after it is the transfer.

/** What one synced backward communicated (DdpStats.steps). */
export interface DdpStepStats {
  /** Buckets communicated, and how many of them started from inside backward (the rest after it). */
  buckets: number;
  startedDuringBackward: number;
  /** Bytes this rank put into the pass's collectives (allreduce: the trainable floats × 4; reduce-scatter: its whole input). */
  bytes: number;
  /** Time the JS thread spent blocked in CommHandle.wait() after backward, ms (the exposed communication). */
  waitMs: number;
  /** Time the communication thread spent inside this pass's collectives and their probes, ms (= peerWaitMs + transferMs; null: the group keeps no counters). */
  collectiveMs: number | null;
  /** Of collectiveMs: inside the probe barriers, waiting for the slower rank to arrive. */
  peerWaitMs: number | null;
  /** Of collectiveMs: inside the collectives themselves (the ranks already together: moving and adding the data). */
  transferMs: number | null;
  /** The armed backward (arm → finish), ms. */
  backwardMs: number;
  /** finish(): starting the remaining buckets and waiting for all, ms (≥ waitMs). */
  finishMs: number;
  /** 1 − waitMs / collectiveMs, in [0, 1] (null without counters or collectives). */
  hiddenShare: number | null;
}

type Summed = "waitMs" | "collectiveMs" | "peerWaitMs" | "transferMs";

/** Per-step communication figures of the gradient buckets. */
export class DdpStats {
  readonly steps: DdpStepStats[] = [];

  /** Means over the steps from `skip` on (warm-up excluded); hiddenShare of the sums. */
  summary(skip = 0): {
    steps: number; bytesPerStep: number; waitMs: number; collectiveMs: number | null; peerWaitMs: number | null; transferMs: number | null;
    hiddenShare: number | null; buckets: number;
  } {
    const xs = this.steps.slice(skip);
    const n = xs.length || 1;
    const mean = (k: Summed) => xs.length && xs.every((x) => x[k] !== null) ? xs.reduce((a, x) => a + x[k]!, 0) / n : null;
    const wait = mean("waitMs") ?? 0, coll = mean("collectiveMs");
    return {
      steps: xs.length, bytesPerStep: xs.reduce((a, x) => a + x.bytes, 0) / n, waitMs: wait, collectiveMs: coll,
      peerWaitMs: mean("peerWaitMs"), transferMs: mean("transferMs"),
      hiddenShare: hiddenShare(wait, coll), buckets: xs.length ? xs[xs.length - 1].buckets : 0,
    };
  }
}

/** 1 − wait / collective, clamped to [0, 1]; null without a collective time. */
export function hiddenShare(waitMs: number, collectiveMs: number | null): number | null {
  if (collectiveMs === null || !(collectiveMs > 0)) return null;
  return Math.min(1, Math.max(0, 1 - waitMs / collectiveMs));
}
