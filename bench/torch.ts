// Finds a python with torch for reference timings (~/.peft-ref first, then python3) and runs
// bench helper scripts with it. Benchmarks only: the library never needs Python.
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from "node:child_process";
import { existsSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";

let found: { python: string; version: string } | null | undefined;

export function findTorchPython(): { python: string; version: string } | null {
  if (found !== undefined) return found;
  const cands = [process.env.PEFT_TS_TORCH_PYTHON, join(homedir(), ".peft-ref", "bin", "python"), "python3"].filter(
    (p): p is string => !!p && (p === "python3" || existsSync(p)),
  );
  for (const python of cands) {
    const r = spawnSync(python, ["-c", "import torch; print(torch.__version__)"], { encoding: "utf8", timeout: 60_000 });
    if (r.status === 0) {
      found = { python, version: r.stdout.trim() };
      return found;
    }
  }
  found = null;
  return null;
}

/** Runs `script` with the torch python, writing `input` as JSON to stdin; returns the parsed JSON lines. */
export function runTorchScript(script: string, args: string[], input: unknown, timeoutMs = 900_000): any[] | null {
  const py = findTorchPython();
  if (!py) return null;
  const r = spawnSync(py.python, [script, ...args], { input: JSON.stringify(input), encoding: "utf8", timeout: timeoutMs, maxBuffer: 64 << 20 });
  if (r.status !== 0) {
    console.error(`bench: ${script} failed (${r.status ?? r.signal}): ${r.stderr.slice(-2000)}`);
    return null;
  }
  return r.stdout.split("\n").filter((l) => l.trim().startsWith("{")).map((l) => JSON.parse(l));
}

/**
 * A long-lived python process running a bench helper in server mode (see bench/torch_ops.py),
 * so PyTorch and our timings can be interleaved round by round under the same background load.
 */
export class TorchServer {
  private lines: string[] = [];
  private waiters: ((line: string | null) => void)[] = [];
  private closed = false;
  readonly child: ChildProcessWithoutNullStreams;

  private constructor(child: ChildProcessWithoutNullStreams) {
    this.child = child;
    let buf = "";
    child.stdout.setEncoding("utf8");
    child.stdout.on("data", (d: string) => {
      buf += d;
      let i: number;
      while ((i = buf.indexOf("\n")) >= 0) {
        const line = buf.slice(0, i).trim();
        buf = buf.slice(i + 1);
        if (!line.startsWith("{")) continue;
        const w = this.waiters.shift();
        if (w) w(line);
        else this.lines.push(line);
      }
    });
    let err = "";
    child.stderr.setEncoding("utf8");
    child.stderr.on("data", (d: string) => (err = (err + d).slice(-4000)));
    child.on("close", (code) => {
      this.closed = true;
      if (code) console.error(`bench: torch helper exited with ${code}: ${err}`);
      for (const w of this.waiters.splice(0)) w(null);
    });
  }

  static async start(script: string, args: string[]): Promise<{ server: TorchServer; hello: any } | null> {
    const py = findTorchPython();
    if (!py) return null;
    const server = new TorchServer(spawn(py.python, [script, ...args], { stdio: ["pipe", "pipe", "pipe"] }));
    const hello = await server.next();
    if (!hello) return null;
    return { server, hello: JSON.parse(hello) };
  }

  private next(): Promise<string | null> {
    const l = this.lines.shift();
    if (l !== undefined) return Promise.resolve(l);
    if (this.closed) return Promise.resolve(null);
    return new Promise((res) => this.waiters.push(res));
  }

  send(msg: unknown): void {
    if (!this.closed) this.child.stdin.write(JSON.stringify(msg) + "\n");
  }

  async request(msg: unknown): Promise<any | null> {
    if (this.closed) return null;
    this.send(msg);
    const line = await this.next();
    return line ? JSON.parse(line) : null;
  }

  close(): void {
    this.send({ cmd: "quit" });
    this.child.stdin.end();
  }
}
