// Field types of PEFT configs, checked as PEFT's dataclass annotations read: `use_dora: bool` must be
// true/false (JSON has no truthiness: `[]` is truthy in JS and falsy in Python, so neither side may
// guess). A field's type comes from its default (boolean, number, string, dict: strings and dicts may
// also be null, as PEFT's Optional[...] fields are), or from the table below for the fields whose
// default is null or whose type is a union. Fields with their own value checks are left to them.

import { ConfigError } from "../tensor/errors.js";

type Check = (v: unknown) => boolean;
interface FieldType {
  what: string;
  ok: Check;
}

const isStringList: Check = (v) => (Array.isArray(v) || v instanceof Set) && [...v].every((x) => typeof x === "string");
const isIntList: Check = (v) => Array.isArray(v) && v.every((x) => Number.isInteger(x));
const isPlainObject: Check = (v) => v !== null && typeof v === "object" && !Array.isArray(v) && !(v instanceof Set);

/** Types of the shared fields whose default does not tell (null defaults, unions). */
const SHARED_TYPES: Record<string, FieldType> = {
  modulesToSave: { what: "null or a list of module names (strings)", ok: (v) => v === null || isStringList(v) },
  layersToTransform: { what: "null, an integer or a list of integers", ok: (v) => v === null || Number.isInteger(v) || isIntList(v) },
  layersPattern: { what: "null, a string or a list of strings", ok: (v) => v === null || typeof v === "string" || isStringList(v) },
  baseModelNameOrPath: { what: "null or a string", ok: (v) => v === null || typeof v === "string" },
  revision: { what: "null or a string", ok: (v) => v === null || typeof v === "string" },
  peftVersion: { what: "null or a string", ok: (v) => v === null || typeof v === "string" },
  autoMapping: { what: "null or an object", ok: (v) => v === null || isPlainObject(v) },
};

/** Union-typed fields validated by their config class (init_lora_weights: bool | "gaussian" | …). */
const OWN_CHECKS = new Set(["initLoraWeights", "targetModules", "excludeModules", "taskType"]);

function typeFromDefault(d: unknown): FieldType | null {
  if (typeof d === "boolean") return { what: "a boolean (true or false)", ok: (v) => typeof v === "boolean" };
  if (typeof d === "number") return { what: "a number", ok: (v) => typeof v === "number" && Number.isFinite(v) };
  if (typeof d === "string") return { what: "null or a string", ok: (v) => v === null || typeof v === "string" };
  if (isPlainObject(d)) return { what: "null or an object", ok: (v) => v === null || isPlainObject(v) };
  return null;
}

/** ConfigError for the first field of `cfg` whose value does not have its PEFT type (message: class, JSON key, expected type, value). */
export function checkFieldTypes(cls: string, cfg: object, defaults: Record<string, unknown>, jsonKey: (field: string) => string): void {
  for (const [k, d] of Object.entries(defaults)) {
    if (OWN_CHECKS.has(k)) continue;
    const t = SHARED_TYPES[k] ?? typeFromDefault(d);
    if (!t) continue;
    const v = (cfg as Record<string, unknown>)[k];
    if (!t.ok(v)) throw new ConfigError(`${cls}: ${jsonKey(k)} must be ${t.what}, got ${JSON.stringify(v instanceof Set ? [...v] : v)}`);
  }
}
