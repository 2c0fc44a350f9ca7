// TrainingArguments flags: the HF field table in options.ts, completed with every field the
// Trainer layer's TrainingArguments actually has (so a field added there is a flag here too),
// typed from its default value.

import { OptSpec, TRAINING_OPTS, GROUPS } from "./options.js";

/** Fields of the Trainer's TrainingArguments that are not user options. */
const INTERNAL = new Set(["__proto__", "constructor", "extra", "unknown"]);

function camelToSnake(s: string): string {
  return s.replace(/[A-Z]/g, (c) => "_" + c.toLowerCase());
}

/** Snake_case field names and defaults of src/train's TrainingArguments, or null if it is not built yet. */
export async function trainerFieldDefaults(): Promise<Record<string, unknown> | null> {
  const path = "../train/args.js";
  let mod: Record<string, unknown>;
  try {
    mod = (await import(path)) as Record<string, unknown>;
  } catch {
    return null;
  }
  const TA = mod.TrainingArguments as (new (o: Record<string, unknown>) => object) & { fromDict?: (o: Record<string, unknown>) => object } | undefined;
  if (!TA) return null;
  let inst: object | null = null;
  try {
    inst = TA.fromDict ? TA.fromDict({ output_dir: "." }) : new TA({ outputDir: "." });
  } catch {
    try {
      inst = new TA({ outputDir: "." });
    } catch {
      return null;
    }
  }
  const out: Record<string, unknown> = {};
  const toDict = (inst as { toDict?: () => Record<string, unknown> }).toDict;
  const src: Record<string, unknown> = typeof toDict === "function" ? toDict.call(inst) : (inst as Record<string, unknown>);
  for (const [k, v] of Object.entries(src)) {
    if (INTERNAL.has(k) || typeof v === "function") continue;
    out[k.includes("_") || k === k.toLowerCase() ? k : camelToSnake(k)] = v;
  }
  return out;
}

/** TRAINING_OPTS plus the Trainer's extra fields (kind from the default's type). */
export async function trainingOptionSpecs(): Promise<OptSpec[]> {
  const fields = await trainerFieldDefaults();
  if (!fields) return TRAINING_OPTS;
  const known = new Set(TRAINING_OPTS.map((o) => o.name));
  const extra: OptSpec[] = [];
  for (const [name, def] of Object.entries(fields)) {
    if (known.has(name)) continue;
    const kind: OptSpec["kind"] = typeof def === "boolean" ? "bool"
      : typeof def === "number" || /(_steps|_size|seed|limit)$/.test(name) ? (/(_size|seed|limit|max_steps|_workers)$/.test(name) ? "int" : "float")
      : Array.isArray(def) ? "list"
      : def !== null && typeof def === "object" ? "json"
      : "string";
    extra.push({ name, kind, help: `TrainingArguments.${name}${def !== null && def !== undefined && typeof def !== "object" ? ` (default ${JSON.stringify(def)})` : ""}`, group: GROUPS.G_TRAIN });
  }
  // only the fields this Trainer has (it rejects others), in the table's order, then its extras
  return [...TRAINING_OPTS.filter((o) => o.name in fields), ...extra];
}
