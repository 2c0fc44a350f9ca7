// Progress output: a cli-progress bar on a TTY (loss, lr, it/s, ETA), plain periodic lines
// otherwise (logs, CI), nothing when disabled.

import cliProgress from "cli-progress";

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

function num(v: number | undefined, digits = 4): string {
  if (v === undefined || !Number.isFinite(v)) return "-";
  return Math.abs(v) < 1e-3 && v !== 0 ? v.toExponential(2) : v.toFixed(digits);
}

class BarProgress implements Progress {
  private multi: cliProgress.MultiBar | null = null;
  private bar: cliProgress.SingleBar | null = null;
  private evalBar: cliProgress.SingleBar | null = null;
  private t0 = 0;
  private v0 = 0;
  private ensureMulti(): cliProgress.MultiBar {
    this.multi ??= new cliProgress.MultiBar({ hideCursor: true, clearOnComplete: false, stream: process.stderr, format: "{label} |{bar}| {value}/{total} {extra}" }, cliProgress.Presets.shades_classic);
    return this.multi;
  }
  start(total: number, startValue: number, label: string): void {
    this.t0 = Date.now();
    this.v0 = startValue;
    this.bar = this.ensureMulti().create(total, startValue, { label, extra: "" }, {
      format: `{label} |{bar}| {value}/{total} loss {loss} lr {lr} {rate} it/s ETA {eta_formatted}`,
    });
    this.bar.update(startValue, { label, loss: "-", lr: "-", rate: "-" });
  }
  evalStart(total: number): void {
    this.evalBar = this.ensureMulti().create(total, 0, { label: "eval ", extra: "" });
  }
  evalUpdate(done: number): void {
    this.evalBar?.update(done);
  }
  evalStop(summary: string): void {
    if (this.evalBar) {
      this.evalBar.stop();
      this.multi?.remove(this.evalBar);
      this.evalBar = null;
    }
    if (this.multi) this.multi.log(summary + "\n");
    else process.stderr.write(summary + "\n");
  }
  update(value: number, info: { loss?: number; lr?: number }): void {
    const dt = (Date.now() - this.t0) / 1000;
    const rate = dt > 0 ? ((value - this.v0) / dt).toFixed(2) : "-";
    this.bar?.update(value, { loss: num(info.loss), lr: num(info.lr, 6), rate });
  }
  line(msg: string): void {
    if (this.multi) this.multi.log(msg + "\n");
    else process.stderr.write(msg + "\n");
  }
  stop(): void {
    this.multi?.stop();
    this.multi = null;
    this.bar = null;
  }
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
    process.stderr.write(`${this.label} ${value}/${this.total} loss ${num(info.loss)} lr ${num(info.lr, 6)} ${rate.toFixed(2)} it/s ETA ${eta}s\n`);
  }
  line(msg: string): void {
    process.stderr.write(msg + "\n");
  }
  evalStart(total: number): void {
    process.stderr.write(`eval: ${total} batches\n`);
  }
  evalUpdate(): void {}
  evalStop(summary: string): void {
    process.stderr.write(summary + "\n");
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

export function makeProgress(disabled: boolean): Progress {
  if (disabled) return new NoProgress();
  return process.stderr.isTTY ? new BarProgress() : new LineProgress();
}
