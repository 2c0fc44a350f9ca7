// Turning a command line and an optional config file into one typed options object:
// defaults < config file < flags. Names are HF snake_case everywhere after this point.

import { existsSync, readFileSync, statSync } from "node:fs";
import { extname } from "node:path";
import { parse as parseYaml } from "yaml";
import { CliError } from "./errors.js";
import type { Kind, OptSpec } from "./options.js";
import { ADAPTER_OPTS, DATA_OPTS, DISTILL_OPTS, GENERAL_OPTS, GEN_OPTS, LAUNCH_OPTS, LOSS_OPTS, MODEL_OPTS, PEFT_OPTS, QUANT_OPTS, TRAINING_OPTS } from "./options.js";

export type Opts = Record<string, unknown>;

/** --foo_bar[=v] → --foo-bar[=v]: snake_case flags are accepted by rewriting them to kebab-case. */
export function normalizeArgv(argv: string[]): string[] {
  const out: string[] = [];
  let passthrough = false;
  for (const a of argv) {
    if (passthrough || !a.startsWith("--") || a === "--") {
      if (a === "--") passthrough = true;
      out.push(a);
      continue;
    }
    const eq = a.indexOf("=");
    const name = eq < 0 ? a : a.slice(0, eq);
    out.push(name.replace(/_/g, "-") + (eq < 0 ? "" : a.slice(eq)));
  }
  return out;
}

export function normalizeKey(k: string): string {
  return k.trim().replace(/-/g, "_");
}

function closest(name: string, known: string[]): string | null {
  let best: string | null = null;
  let bestD = Infinity;
  for (const k of known) {
    const d = editDistance(name, k);
    if (d < bestD) {
      bestD = d;
      best = k;
    }
  }
  return best !== null && bestD <= Math.max(2, Math.floor(name.length / 4)) ? best : null;
}

function editDistance(a: string, b: string): number {
  const dp = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = dp[0];
    dp[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = dp[j];
      dp[j] = Math.min(dp[j] + 1, dp[j - 1] + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = tmp;
    }
  }
  return dp[b.length];
}

/** Parses a boolean written as a flag value or a config string. */
export function parseBool(v: unknown, where: string): boolean {
  if (typeof v === "boolean") return v;
  if (typeof v === "number" && (v === 0 || v === 1)) return v === 1;
  const t = String(v).trim().toLowerCase();
  if (["true", "1", "yes", "y", "on"].includes(t)) return true;
  if (["false", "0", "no", "n", "off"].includes(t)) return false;
  throw new CliError(`${where} expects true or false, got ${JSON.stringify(v)}`);
}

/** Converts one value to the option's kind, with an error naming the option and where it came from. */
export function coerce(spec: OptSpec, v: unknown, where: string): unknown {
  const label = `${where}${spec.name}`;
  if (v === null) return null;
  switch (spec.kind as Kind) {
    case "bool":
      return parseBool(v, label);
    case "int": {
      const n = typeof v === "number" ? v : Number(String(v).trim());
      if (!Number.isInteger(n) || String(v).trim() === "") throw new CliError(`${label} expects an integer, got ${JSON.stringify(v)}`);
      return n;
    }
    case "float": {
      const n = typeof v === "number" ? v : Number(String(v).trim());
      if (!Number.isFinite(n) || String(v).trim() === "") throw new CliError(`${label} expects a number, got ${JSON.stringify(v)}`);
      return n;
    }
    case "list": {
      if (Array.isArray(v)) return v.flatMap((x) => String(x).split(",")).map((x) => x.trim()).filter(Boolean);
      const str = String(v).trim();
      if (str === "all-linear" || str === "all_linear") return "all-linear";
      // PEFT: a single string for target modules is a regular expression matched against full names
      if ((spec.name === "target_modules" || spec.name === "feedforward_modules") && !str.includes(",") && /[\\^$.*+?()[\]{}|]/.test(str)) return str;
      return str.split(",").map((x) => x.trim()).filter(Boolean);
    }
    case "json": {
      if (typeof v !== "string") return v;
      try {
        return JSON.parse(v);
      } catch {
        throw new CliError(`${label} expects JSON, got ${JSON.stringify(v)}`);
      }
    }
    case "string":
    case "path": {
      if (Array.isArray(v)) {
        if (spec.name === "prompt") return v.map(String);
        throw new CliError(`${label} expects a single value, got a list`);
      }
      if (typeof v === "object") throw new CliError(`${label} expects a string, got ${JSON.stringify(v)}`);
      const str = String(v);
      if (spec.choices && !spec.choices.includes(str)) {
        const hint = closest(str, [...spec.choices]);
        throw new CliError(`${label} must be one of ${spec.choices.join(", ")}; got '${str}'${hint ? ` (did you mean '${hint}'?)` : ""}`);
      }
      return str;
    }
  }
}

/** Reads a JSON/YAML config file into a snake_case object (keys only checked by resolveOptions). */
export function readConfigFile(path: string): Opts {
  if (!existsSync(path)) throw new CliError(`config file not found: ${path}`);
  if (statSync(path).isDirectory()) throw new CliError(`config file ${path} is a directory, expected a .yaml, .yml or .json file`);
  const text = readFileSync(path, "utf8");
  let data: unknown;
  const ext = extname(path).toLowerCase();
  try {
    data = ext === ".json" ? JSON.parse(text) : parseYaml(text);
  } catch (e) {
    const first = ((e as Error).message ?? "").split("\n")[0];
    throw new CliError(`config file ${path} is not valid ${ext === ".json" ? "JSON" : "YAML"}: ${first}`);
  }
  if (data === null || data === undefined) return {};
  if (typeof data !== "object" || Array.isArray(data)) throw new CliError(`config file ${path} must hold a mapping of option names to values`);
  const out: Opts = {};
  for (const [k, v] of Object.entries(data as Record<string, unknown>)) out[normalizeKey(k)] = v;
  return out;
}

const SHARED_FILE_KEYS = new Set<string>(
  [GENERAL_OPTS, MODEL_OPTS, QUANT_OPTS, DATA_OPTS, ADAPTER_OPTS, PEFT_OPTS, LOSS_OPTS, GEN_OPTS, DISTILL_OPTS, LAUNCH_OPTS, TRAINING_OPTS].flat().map((o) => o.name),
);

/**
 * Merges defaults < config file < flags. `cli` holds only the options given on the command line
 * (already snake_case); `extraFileKeys` are keys a config file may hold that have no flag
 * (e.g. `tasks` for multitask). Unknown keys in the file are an error with a suggestion.
 */
export function resolveOptions(
  command: string,
  specs: Map<string, OptSpec>,
  cli: Opts,
  file: Opts | null,
  filePath: string | null,
  extraFileKeys: string[] = [],
): Opts {
  const out: Opts = {};
  for (const [name, spec] of specs) if (spec.default !== undefined) out[name] = spec.default;
  if (file) {
    const known = [...specs.keys(), ...extraFileKeys];
    for (const [k, v] of Object.entries(file)) {
      if (k === "config") continue;
      if (extraFileKeys.includes(k)) {
        out[k] = v;
        continue;
      }
      const spec = specs.get(k);
      // one config file serves train, eval, predict and generate: options of another command are skipped
      if (!spec && SHARED_FILE_KEYS.has(k)) continue;
      if (!spec) {
        const hint = closest(k, known);
        throw new CliError(`${filePath}: unknown option '${k}' for 'peft-ts ${command}'${hint ? ` (did you mean '${hint}'?)` : ""}`);
      }
      out[k] = coerce(spec, v, `${filePath}: `);
    }
  }
  for (const [k, v] of Object.entries(cli)) {
    const spec = specs.get(k);
    if (!spec) continue;
    out[k] = coerce(spec, v, "--");
  }
  Object.defineProperty(out, "__explicit", { value: new Set([...Object.keys(file ?? {}), ...Object.keys(cli)]), enumerable: false });
  return out;
}

/** Fails with one line naming the option and the path when a required input file is missing. */
/** True when the option was set in the config file or on the command line (not a default). */
export function isExplicit(opts: Opts, name: string): boolean {
  const set = (opts as { __explicit?: Set<string> }).__explicit;
  return set ? set.has(name) : opts[name] !== undefined;
}

export function requireFile(opts: Opts, name: string, what = "file"): string {
  const v = opts[name];
  if (v === undefined || v === null || v === "") throw new CliError(`--${name} is required (${what})`);
  const path = String(v);
  if (!existsSync(path)) throw new CliError(`--${name}: ${what} not found: ${path}`);
  return path;
}

export function optionalFile(opts: Opts, name: string, what = "file"): string | null {
  const v = opts[name];
  if (v === undefined || v === null || v === "") return null;
  const path = String(v);
  if (!existsSync(path)) throw new CliError(`--${name}: ${what} not found: ${path}`);
  return path;
}
