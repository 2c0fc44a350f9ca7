// The host around the library, without Node built-ins: environment variables, the process id, the
// working directory, warnings and the stderr stream when a Node `process` exists (a browser has
// none: then undefined / 0 / "/" / the console), random bytes from Web Crypto (Node has it too).
// Facts only Node's built-in modules know (total memory, the home directory) are registered by
// the Node entry (src/node.ts) through setHostInfo.

interface ProcessLike {
  env?: Record<string, string | undefined>;
  pid?: number;
  cwd?: () => string;
  emitWarning?: (msg: string, opts?: { code?: string }) => void;
  stderr?: { write(s: string): unknown; isTTY?: boolean };
  exit?: (code: number) => never;
  kill?: (pid: number, signal: number) => unknown;
}

const proc = (globalThis as { process?: ProcessLike }).process;

/** process.env[name] when there is a process, else undefined. */
export function envVar(name: string): string | undefined {
  return proc?.env?.[name];
}

/** The whole environment (an empty object in a browser). */
export function envVars(): Record<string, string | undefined> {
  return proc?.env ?? {};
}

/** The process id (0 in a browser). */
export function processId(): number {
  return proc?.pid ?? 0;
}

/**
 * Whether process `pid` runs (signal 0; EPERM: it runs as another user). Without a process (a
 * browser) false: what an earlier page left half-written in its files counts as abandoned.
 */
export function processAlive(pid: number): boolean {
  if (!proc?.kill) return false;
  if (pid === proc.pid) return true;
  try {
    proc.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as { code?: string }).code === "EPERM";
  }
}

/** Ends the process with `code` (Node); a browser has no process to end: an Error saying so. */
export function exitProcess(code: number): never {
  if (proc?.exit) proc.exit(code);
  throw new Error(`peft-ts: exit ${code} requested (no process to end here)`);
}

/** The working directory relative paths start from ("/" in a browser's memory file system). */
export function cwd(): string {
  return typeof proc?.cwd === "function" ? proc.cwd() : "/";
}

/** n random bytes (crypto.getRandomValues: Node >= 19 and every browser). */
export function randomBytes(n: number): Uint8Array {
  return globalThis.crypto.getRandomValues(new Uint8Array(n));
}

export function randomHex(n: number): string {
  return Array.from(randomBytes(n), (b) => b.toString(16).padStart(2, "0")).join("");
}

/** process.emitWarning (listeners see it; printed once to stderr by Node), else console.warn. */
export function emitWarning(msg: string, code?: string): void {
  if (proc?.emitWarning) {
    if (code === undefined) proc.emitWarning(msg);
    else proc.emitWarning(msg, { code });
  } else console.warn(code === undefined ? msg : `(${code}) ${msg}`);
}

/** Writes text to stderr (the console in a browser, one call per text). */
export function writeStderr(text: string): void {
  if (proc?.stderr) proc.stderr.write(text);
  else console.error(text.endsWith("\n") ? text.slice(0, -1) : text);
}

/** Whether stderr is a terminal (never in a browser). */
export function stderrIsTTY(): boolean {
  return proc?.stderr?.isTTY === true;
}

/**
 * n bytes whose contents are not cleared: Node's Buffer.allocUnsafeSlow (outside V8's heap,
 * not pooled); a zeroed Uint8Array where there is no Buffer.
 */
export function uninitializedBytes(n: number): Uint8Array {
  const B = (globalThis as { Buffer?: { allocUnsafeSlow(n: number): Uint8Array } }).Buffer;
  return B ? B.allocUnsafeSlow(n) : new Uint8Array(n);
}

/** Lets timers, I/O and signal handlers run (setImmediate in Node, a zero timeout elsewhere). */
export function yieldToEventLoop(): Promise<void> {
  const si = (globalThis as { setImmediate?: (f: () => void) => unknown }).setImmediate;
  return new Promise<void>((r) => (si ? si(r) : setTimeout(r, 0)));
}

export interface HostInfo {
  /** Bytes of memory the machine has (the config-size check); Infinity when unknown. */
  totalMemoryBytes(): number;
  /** The user's home directory (the Hugging Face cache sits below it); null when there is none. */
  homeDir(): string | null;
  /** The CPU (model name, cores, the SIMD flags kernels care about); null when unknown (browsers). */
  cpu?(): { model: string; cores: number; flags: string[] } | null;
}

let host: HostInfo = { totalMemoryBytes: () => Infinity, homeDir: () => null };

export function hostInfo(): HostInfo {
  return host;
}

export function setHostInfo(h: HostInfo): void {
  host = h;
}
