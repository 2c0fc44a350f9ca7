// Progress output: a cli-progress bar on a TTY (loss, lr, it/s, ETA; progress_bar.ts, Node-only,
// registered by src/node.ts), plain periodic lines otherwise (logs, CI, a browser's console),
// nothing when disabled.

import { stderrIsTTY, writeStderr } from "../platform/env.js";

export interface Progress {
  start(total: number, startValue: number, label: string): void;
  update(value: number, info: { loss?: number; lr?: number }): void;
  line(msg: string): void;
  /** A second bar (TTY) or start/end lines for an evaluation pass over `total` batches. */
  evalStart(total: number): void;
  evalUpdate(done: number): void;
  evalStop(summary: string): void;
  stop(): void;
}

export function num(v: number | undefined, digits = 4): string {
  if (v === undefined || !Number.isFinite(v)) return "-";
  return Math.abs(v) < 1e-3 && v !== 0 ? v.toExponential(2) : v.toFixed(digits);
}

class LineProgress implements Progress {
  private total = 0;
  private t0 = 0;
  private v0 = 0;
  private last = 0;
  private label = "";
  start(total: number, startValue: number, label: string): void {
    this.total = total;
    this.t0 = Date.now();
    this.v0 = startValue;
    this.label = label;
  }
  update(value: number, info: { loss?: number; lr?: number }): void {
    const now = Date.now();
    // one line every 10 s, and at the end
    if (value < this.total && now - this.last < 10_000) return;
    this.last = now;
    const dt = (now - this.t0) / 1000;
    const rate = dt > 0 ? (value - this.v0) / dt : 0;
    const eta = rate > 0 ? Math.round((this.total - value) / rate) : 0;
    writeStderr(`${this.label} ${value}/${this.total} loss ${num(info.loss)} lr ${num(info.lr, 6)} ${rate.toFixed(2)} it/s ETA ${eta}s\n`);
  }
  line(msg: string): void {
    writeStderr(msg + "\n");
  }
  evalStart(total: number): void {
    writeStderr(`eval: ${total} batches\n`);
  }
  evalUpdate(): void {}
  evalStop(summary: string): void {
    writeStderr(summary + "\n");
  }
  stop(): void {}
}

class NoProgress implements Progress {
  start(): void {}
  update(): void {}
  line(): void {}
  evalStart(): void {}
  evalUpdate(): void {}
  evalStop(): void {}
  stop(): void {}
}

let makeBar: (() => Progress) | null = null;

/** Registers the terminal progress bar (src/node.ts: progress_bar.ts). */
export function registerProgressBar(make: () => Progress): void {
  makeBar = make;
}

export function makeProgress(disabled: boolean): Progress {
  if (disabled) return new NoProgress();
  return stderrIsTTY() && makeBar ? makeBar() : new LineProgress();
}
