// PEFT configs: typed camelCase fields inside, adapter_config.json (PEFT 0.21 spelling) at the edge.
// Each field's JSON key is its snake_case spelling (loraAlpha ⇄ lora_alpha), so a config class is a
// table of defaults. adapter_config.json is written as Python's json.dumps(indent=2, sort_keys=True)
// does, floats included ("lora_dropout": 0.0). Unknown JSON fields are ignored with a warning; a
// missing or unknown peft_type is a ConfigError (the table of methods is in registry.ts).

import { emitWarning } from "../platform/env.js";
import { getFiles } from "../platform/files.js";
import { join } from "../platform/paths.js";
import { ConfigError } from "../tensor/errors.js";
import { atomicWriteFile } from "../io/fs.js";
import { checkFieldTypes } from "./config_types.js";
import { readJsonFileChecked } from "../io/json.js";
import { getPeftMethod, registeredPeftTypes, type PeftMethod, type PeftType } from "./registry.js";

/** The peft types are the registered methods' (registry.ts); re-exported here for config users. */
export type { PeftType };
export const TASK_TYPES = ["SEQ_CLS", "SEQ_2_SEQ_LM", "CAUSAL_LM", "TOKEN_CLS", "QUESTION_ANS", "FEATURE_EXTRACTION"] as const;
export type TaskType = (typeof TASK_TYPES)[number];

/** The peft version whose adapter format we read and write. */
export const PEFT_FORMAT_VERSION = "0.21.0";
export const CONFIG_NAME = "adapter_config.json";
export const WEIGHTS_NAME = "adapter_model.safetensors";

export function camelToSnake(s: string): string {
  return s.replace(/[A-Z]/g, (c) => "_" + c.toLowerCase());
}
export function snakeToCamel(s: string): string {
  return s.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}

export interface PeftConfigOptions {
  taskType?: TaskType | null;
  baseModelNameOrPath?: string | null;
  revision?: string | null;
  inferenceMode?: boolean;
  autoMapping?: Record<string, unknown> | null;
  peftVersion?: string | null;
}

const BASE_DEFAULTS = {
  taskType: null,
  baseModelNameOrPath: null,
  revision: null,
  inferenceMode: false,
  autoMapping: null,
  peftVersion: PEFT_FORMAT_VERSION,
} satisfies Record<string, unknown>;

/** Option key (a symbol, so it never collides with a field) collecting unknown fields instead of throwing. */
export const UNKNOWN_FIELDS = Symbol("unknownFields");

function clone<T>(v: T): T {
  return v === null || typeof v !== "object" ? v : (JSON.parse(JSON.stringify(v)) as T);
}

/**
 * Base of every method config. Subclasses pass their peft_type, a table of defaults (camelCase
 * keys; the JSON key is the snake_case form) and the user's options.
 */
export abstract class PeftConfig {
  declare readonly peftType: PeftType;
  declare taskType: TaskType | null;
  declare baseModelNameOrPath: string | null;
  declare revision: string | null;
  declare inferenceMode: boolean;
  declare autoMapping: Record<string, unknown> | null;
  declare peftVersion: string | null;
  /** JSON keys whose values are floats (written with a decimal point, as Python does). */
  protected static floatFields: readonly string[] = [];
  /** Fields whose adapter_config.json key is not their snake_case form (AdaLoRA's `deltaT`). */
  protected static jsonKeys: Readonly<Record<string, string>> = {};

  protected constructor(peftType: PeftType, defaults: Record<string, unknown>, opts: object) {
    Object.defineProperty(this, "peftType", { value: peftType, enumerable: false });
    const all: Record<string, unknown> = { ...BASE_DEFAULTS, ...defaults };
    for (const [k, v] of Object.entries(all)) (this as Record<string, unknown>)[k] = clone(v);
    const lenient = (opts as { [UNKNOWN_FIELDS]?: string[] })[UNKNOWN_FIELDS];
    for (const [k, v] of Object.entries(opts)) {
      if (k === "peftType") continue;
      if (!Object.hasOwn(all, k) && lenient) {
        lenient.push(k);
        continue;
      }
      if (!Object.hasOwn(all, k)) {
        throw new ConfigError(`${this.constructor.name}: unknown option '${k}'; known options: ${Object.keys(all).sort().join(", ")}`);
      }
      if (v !== undefined) (this as Record<string, unknown>)[k] = clone(v);
    }
    const spelled = (this.constructor as typeof PeftConfig).jsonKeys;
    checkFieldTypes(this.constructor.name, this, all, (k) => spelled[k] ?? camelToSnake(k));
    if (this.taskType !== null && !(TASK_TYPES as readonly string[]).includes(this.taskType)) {
      throw new ConfigError(`${this.constructor.name}: task_type '${this.taskType}' is not one of ${TASK_TYPES.join(", ")}`);
    }
  }

  /** The camelCase field names this config serialises (base fields included). */
  fieldNames(): string[] {
    return Object.keys(this);
  }
  /** True for prompt-learning methods (prompt/prefix/p-tuning): no module injection. */
  get isPromptLearning(): boolean {
    return false;
  }
  /** Checks field values; called by the constructor of each subclass and after reading JSON. */
  validate(): void {}

  /** The adapter_config.json object (snake_case keys, peft_type included). */
  toJSON(): Record<string, unknown> {
    const out: Record<string, unknown> = { peft_type: this.peftType };
    const spelled = (this.constructor as typeof PeftConfig).jsonKeys;
    for (const k of this.fieldNames()) {
      const v = (this as Record<string, unknown>)[k];
      out[spelled[k] ?? camelToSnake(k)] = v instanceof Set ? [...v] : clone(v);
    }
    return out;
  }
  /** The exact text PEFT writes (json.dumps(indent=2, sort_keys=True), no trailing newline). */
  toJsonString(): string {
    const floats = new Set((this.constructor as typeof PeftConfig).floatFields);
    return pythonJson(this.toJSON(), floats);
  }
  copy(overrides: Record<string, unknown> = {}): this {
    const c = Object.create(Object.getPrototypeOf(this)) as this;
    Object.defineProperty(c, "peftType", { value: this.peftType, enumerable: false });
    for (const k of this.fieldNames()) (c as Record<string, unknown>)[k] = clone((this as Record<string, unknown>)[k]);
    for (const [k, v] of Object.entries(overrides)) (c as Record<string, unknown>)[k] = clone(v);
    return c;
  }
}

// ---------------------------------------------------------------------------- Python-style JSON

function pyFloat(x: number): string {
  if (!Number.isFinite(x)) throw new ConfigError(`adapter_config.json cannot hold ${x} (strict JSON has no NaN/Infinity)`);
  if (Number.isInteger(x) && Math.abs(x) < 1e16) return x.toFixed(1);
  const ax = Math.abs(x);
  if (ax >= 1e-4 && ax < 1e16) return String(x);
  const [mant, exp] = x.toExponential().split("e");
  const e = Number(exp);
  return `${mant}e${e < 0 ? "-" : "+"}${String(Math.abs(e)).padStart(2, "0")}`;
}

function pyString(s: string): string {
  return JSON.stringify(s).replace(/[\u0080-\uffff]/g, (c) => "\\u" + c.charCodeAt(0).toString(16).padStart(4, "0"));
}

/** json.dumps(v, indent=2, sort_keys=True) with ensure_ascii; keys in `floatKeys` are written as floats. */
export function pythonJson(v: unknown, floatKeys: ReadonlySet<string> = new Set(), indent = "", asFloat = false): string {
  const inner = indent + "  ";
  if (v === null || v === undefined) return "null";
  if (typeof v === "boolean") return v ? "true" : "false";
  if (typeof v === "number") return asFloat ? pyFloat(v) : Number.isInteger(v) ? String(v) : pyFloat(v);
  if (typeof v === "string") return pyString(v);
  if (Array.isArray(v)) {
    if (v.length === 0) return "[]";
    return "[\n" + v.map((x) => inner + pythonJson(x, floatKeys, inner, asFloat)).join(",\n") + "\n" + indent + "]";
  }
  if (typeof v === "object") {
    const keys = Object.keys(v as object).sort();
    if (keys.length === 0) return "{}";
    const rec = v as Record<string, unknown>;
    return "{\n" + keys.map((k) => `${inner}${pyString(k)}: ${pythonJson(rec[k], floatKeys, inner, floatKeys.has(k))}`).join(",\n") + "\n" + indent + "}";
  }
  throw new ConfigError(`adapter_config.json: cannot serialise a ${typeof v}`);
}

export type Warn = (msg: string) => void;
const defaultWarn: Warn = (msg) => emitWarning(msg, "PEFT_CONFIG");

/** Builds the right config class from an adapter_config.json object. */
export function configFromJSON(obj: unknown, source = "<object>", warn: Warn = defaultWarn): PeftConfig {
  if (obj === null || typeof obj !== "object" || Array.isArray(obj)) throw new ConfigError(`${source}: expected a JSON object`);
  const rec = obj as Record<string, unknown>;
  const pt = rec.peft_type;
  if (pt === undefined || pt === null) throw new ConfigError(`${source}: missing 'peft_type'; expected one of: ${registeredPeftTypes().sort().join(", ")}`);
  if (typeof pt !== "string") throw new ConfigError(`${source}: 'peft_type' must be a string, got ${JSON.stringify(pt)}`);
  const method = getPeftMethodFor(pt, source);
  // a key is a field's snake_case form or, for the few fields PEFT spells otherwise (AdaLoRA's
  // deltaT), the class's own spelling, which wins over the snake_case form when a file has both
  const snake = new Map<string, [string, unknown]>();
  const other = new Map<string, [string, unknown]>();
  const unknown: string[] = [];
  for (const [k, v] of Object.entries(rec)) {
    if (k === "peft_type") continue;
    const ck = snakeToCamel(k);
    (camelToSnake(ck) === k ? snake : other).set(ck, [k, v]);
  }
  const build = (spelled: Readonly<Record<string, string>>): { cfg: PeftConfig; spelledAs: Map<string, string>; lenient: string[] } => {
    const fields = new Map(snake);
    for (const [ck, kv] of other) if (spelled[ck] === kv[0]) fields.set(ck, kv);
    const opts: Record<string | symbol, unknown> = {};
    for (const [ck, [, v]] of fields) opts[ck] = v;
    const lenient: string[] = [];
    opts[UNKNOWN_FIELDS] = lenient;
    try {
      return { cfg: method.configFromOptions(opts as Record<string, unknown>), spelledAs: new Map([...fields].map(([ck, [k]]) => [ck, k])), lenient };
    } catch (e) {
      if (e instanceof ConfigError) throw new ConfigError(`${source}: ${e.message}`);
      throw e;
    }
  };
  let built = build({});
  const spelled = (built.cfg.constructor as unknown as { jsonKeys: Readonly<Record<string, string>> }).jsonKeys;
  if ([...other].some(([ck, [k]]) => spelled[ck] === k)) built = build(spelled);
  const { cfg, spelledAs, lenient } = built;
  for (const [ck, [k]] of other) if (spelled[ck] !== k) unknown.push(k);
  unknown.push(...lenient.map((ck) => spelledAs.get(ck) ?? camelToSnake(ck)));
  if (unknown.length) warn(`${source}: ignoring unknown ${pt} config field(s): ${unknown.sort().join(", ")}`);
  return cfg;
}

function getPeftMethodFor(pt: string, source: string): PeftMethod {
  try {
    return getPeftMethod(pt);
  } catch (e) {
    throw new ConfigError(`${source}: ${(e as Error).message}`);
  }
}

/** Reads `dir/adapter_config.json`. */
export function loadPeftConfig(dir: string, warn?: Warn): PeftConfig {
  const path = join(dir, CONFIG_NAME);
  if (!getFiles().exists(path)) throw new ConfigError(`no ${CONFIG_NAME} in '${dir}'`);
  return configFromJSON(readJsonFileChecked(path, CONFIG_NAME), path, warn);
}

/** Writes `dir/adapter_config.json` atomically. */
export function savePeftConfig(config: PeftConfig, dir: string): void {
  atomicWriteFile(join(dir, CONFIG_NAME), config.toJsonString());
}

// ---------------------------------------------------------------------------- field checks

export function checkTargetSpec(name: string, cls: string, v: unknown): void {
  if (v === null || typeof v === "string") return;
  if (Array.isArray(v) && v.every((x) => typeof x === "string")) return;
  if (v instanceof Set && [...v].every((x) => typeof x === "string")) return;
  throw new ConfigError(`${cls}: ${name} must be null, a string (regex) or a list of strings, got ${JSON.stringify(v)}`);
}

export function checkOneOf(cls: string, name: string, v: unknown, allowed: readonly unknown[]): void {
  if (!allowed.includes(v)) throw new ConfigError(`${cls}: ${name} must be one of ${allowed.map((a) => JSON.stringify(a)).join(", ")}, got ${JSON.stringify(v)}`);
}

export function checkPositiveInt(cls: string, name: string, v: unknown): void {
  if (typeof v !== "number" || !Number.isInteger(v) || v <= 0) throw new ConfigError(`${cls}: ${name} must be a positive integer, got ${JSON.stringify(v)}`);
}

/** Rejects features we do not implement when they are set to a non-default value. */
export function checkUnsupported(cls: string, cfg: object, defaults: Record<string, unknown>, names: string[]): void {
  for (const n of names) {
    const v = (cfg as Record<string, unknown>)[n];
    if (JSON.stringify(v) !== JSON.stringify(defaults[n])) {
      throw new ConfigError(`${cls}: ${camelToSnake(n)}=${JSON.stringify(v)} is not supported by peft-ts (only ${JSON.stringify(defaults[n])})`);
    }
  }
}
