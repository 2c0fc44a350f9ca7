// Schedules for the distillation temperature and loss weights, as functions of the step.

import { ConfigError } from "../tensor/errors.js";

export type Schedule = (step: number) => number;
/** A number (constant) or a schedule. */
export type ScheduleLike = number | Schedule;

export function constantSchedule(value: number): Schedule {
  return () => value;
}

/**
 * Linear interpolation from `start` at step 0 to `end` at `totalSteps` (held at `end` afterwards),
 * e.g. temperature 4 → 1, or the KD weight α 0.9 → 0.1.
 */
export function linearSchedule(start: number, end: number, totalSteps: number): Schedule {
  if (!(totalSteps > 0)) throw new ConfigError(`linearSchedule: totalSteps must be > 0, got ${totalSteps}`);
  return (step) => {
    const f = Math.min(Math.max(step / totalSteps, 0), 1);
    return start + (end - start) * f;
  };
}

/** Cosine interpolation from start to end over totalSteps. */
export function cosineSchedule(start: number, end: number, totalSteps: number): Schedule {
  if (!(totalSteps > 0)) throw new ConfigError(`cosineSchedule: totalSteps must be > 0, got ${totalSteps}`);
  return (step) => {
    const f = Math.min(Math.max(step / totalSteps, 0), 1);
    return end + (start - end) * 0.5 * (1 + Math.cos(Math.PI * f));
  };
}

export function resolveSchedule(s: ScheduleLike | undefined, fallback: number): Schedule {
  if (s === undefined) return constantSchedule(fallback);
  return typeof s === "number" ? constantSchedule(s) : s;
}
