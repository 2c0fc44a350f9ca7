// CLI errors: a CliError is a usage problem the user fixes by changing the command line or the
// config file; everything else thrown below us is reported by its message, on one line.

export class CliError extends Error {
  /** Exit status: 2 for usage errors (bad flag, bad value), 1 for runtime failures. */
  readonly exitCode: number;
  constructor(message: string, exitCode = 2) {
    super(message);
    this.name = "CliError";
    this.exitCode = exitCode;
  }
}

/** The one line printed for an error: the message with newlines folded and the prefix added. */
export function errorLine(e: unknown): string {
  const raw = e instanceof Error ? e.message : String(e);
  const msg = raw
    .replace(/^error:\s*/i, "")
    .split(/\r?\n/)
    .map((s) => s.trim())
    .filter(Boolean)
    .join(" ");
  return `peft-ts: error: ${msg || (e instanceof Error ? e.name : "unknown error")}`;
}
