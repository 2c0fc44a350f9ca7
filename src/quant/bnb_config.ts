// BitsAndBytesConfig: transformers' quantisation config for 8-bit / 4-bit frozen bases, with HF's
// field names (camelCase here, snake_case accepted from JSON / HF dicts) and defaults. Only the
// storage-related fields act (load_in_8bit/4bit, bnb_4bit_quant_type, bnb_4bit_use_double_quant,
// bnb_4bit_compute_dtype, llm_int8_skip_modules); llm_int8_threshold is accepted and kept (the
// outlier decomposition of LLM.int8() inference is not implemented: weights are always dequantised).

import { ConfigError } from "../tensor/errors.js";

export type Bnb4bitQuantType = "fp4" | "nf4";
export type BnbComputeDtype = "f32" | "bf16";

export interface BitsAndBytesOptions {
  loadIn8bit?: boolean;
  loadIn4bit?: boolean;
  bnb4bitQuantType?: Bnb4bitQuantType;
  bnb4bitUseDoubleQuant?: boolean;
  /** "f32" | "bf16" (HF's "float32" / "bfloat16" accepted too). */
  bnb4bitComputeDtype?: BnbComputeDtype | "float32" | "bfloat16";
  /** Module names left in full precision (default: the output head and tied modules, as transformers). */
  llmInt8SkipModules?: string[] | null;
  llmInt8Threshold?: number;
}

const SNAKE: Record<string, keyof BitsAndBytesOptions> = {
  load_in_8bit: "loadIn8bit", load_in_4bit: "loadIn4bit", bnb_4bit_quant_type: "bnb4bitQuantType",
  bnb_4bit_use_double_quant: "bnb4bitUseDoubleQuant", bnb_4bit_compute_dtype: "bnb4bitComputeDtype",
  llm_int8_skip_modules: "llmInt8SkipModules", llm_int8_threshold: "llmInt8Threshold",
};
/** HF fields with no effect here that a saved quantization_config may carry. */
const IGNORED = new Set(["quant_method", "llm_int8_enable_fp32_cpu_offload", "llm_int8_has_fp16_weight", "bnb_4bit_quant_storage", "_load_in_4bit", "_load_in_8bit"]);

function failField(source: string, field: string, expected: string, got: unknown): never {
  throw new ConfigError(`${source}: field '${field}' must be ${expected}, got ${JSON.stringify(got)}`);
}

export class BitsAndBytesConfig {
  readonly loadIn8bit: boolean;
  readonly loadIn4bit: boolean;
  readonly bnb4bitQuantType: Bnb4bitQuantType;
  readonly bnb4bitUseDoubleQuant: boolean;
  readonly bnb4bitComputeDtype: BnbComputeDtype;
  readonly llmInt8SkipModules: string[] | null;
  readonly llmInt8Threshold: number;

  /** `spell` names a field in errors (fromDict: HF's snake_case). */
  constructor(opts: BitsAndBytesOptions = {}, source = "BitsAndBytesConfig", spell: (field: string) => string = (f) => f) {
    const o = opts as Record<string, unknown>;
    const fail = (field: string, expected: string, got: unknown): never => failField(source, spell(field), expected, got);
    for (const k of Object.keys(o)) {
      if (!Object.values(SNAKE).includes(k as keyof BitsAndBytesOptions)) {
        throw new ConfigError(`${source}: unknown field '${k}' (known: ${Object.values(SNAKE).join(", ")})`);
      }
    }
    const bool = (k: keyof BitsAndBytesOptions) => {
      const v = o[k] ?? false;
      if (typeof v !== "boolean") fail(k, "a boolean", v);
      return v as boolean;
    };
    this.loadIn8bit = bool("loadIn8bit");
    this.loadIn4bit = bool("loadIn4bit");
    this.bnb4bitUseDoubleQuant = bool("bnb4bitUseDoubleQuant");
    if (this.loadIn8bit && this.loadIn4bit) {
      throw new ConfigError(`${source}: ${spell("loadIn4bit")} and ${spell("loadIn8bit")} are both true, but only one can be used at the same time`);
    }
    const qt = o.bnb4bitQuantType ?? "fp4";
    if (qt !== "fp4" && qt !== "nf4") fail("bnb4bitQuantType", `"fp4" or "nf4"`, qt);
    this.bnb4bitQuantType = qt as Bnb4bitQuantType;
    const cd = o.bnb4bitComputeDtype ?? "f32";
    const dtype = cd === "float32" || cd === "f32" ? "f32" : cd === "bfloat16" || cd === "bf16" ? "bf16" : null;
    if (!dtype) fail("bnb4bitComputeDtype", `"f32"/"float32" or "bf16"/"bfloat16"`, cd);
    this.bnb4bitComputeDtype = dtype as BnbComputeDtype;
    const skip = o.llmInt8SkipModules ?? null;
    if (skip !== null && !(Array.isArray(skip) && skip.every((s) => typeof s === "string"))) fail("llmInt8SkipModules", "a list of module names or null", skip);
    this.llmInt8SkipModules = skip as string[] | null;
    const th = o.llmInt8Threshold ?? 6.0;
    if (typeof th !== "number" || !Number.isFinite(th)) fail("llmInt8Threshold", "a finite number", th);
    this.llmInt8Threshold = th as number;
  }

  /** From HF's snake_case dict (a config.json quantization_config, or BitsAndBytesConfig.to_dict()). */
  static fromDict(d: Record<string, unknown>, source = "quantization_config"): BitsAndBytesConfig {
    if (!d || typeof d !== "object" || Array.isArray(d)) throw new ConfigError(`${source}: expected an object, got ${JSON.stringify(d)}`);
    if (d.quant_method !== undefined && d.quant_method !== "bitsandbytes") failField(source, "quant_method", `"bitsandbytes"`, d.quant_method);
    const o: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(d)) {
      if (IGNORED.has(k)) continue;
      const name = SNAKE[k] ?? (Object.values(SNAKE).includes(k as keyof BitsAndBytesOptions) ? k : null);
      if (!name) throw new ConfigError(`${source}: unknown field '${k}' (known: ${Object.keys(SNAKE).join(", ")})`);
      o[name] = v;
    }
    const snake = new Map(Object.entries(SNAKE).map(([k, v]) => [v as string, k]));
    return new BitsAndBytesConfig(o as BitsAndBytesOptions, source, (f) => snake.get(f) ?? f);
  }

  /** HF's to_dict() spelling. */
  toDict(): Record<string, unknown> {
    return {
      quant_method: "bitsandbytes", load_in_8bit: this.loadIn8bit, load_in_4bit: this.loadIn4bit,
      llm_int8_threshold: this.llmInt8Threshold, llm_int8_skip_modules: this.llmInt8SkipModules,
      bnb_4bit_quant_type: this.bnb4bitQuantType, bnb_4bit_use_double_quant: this.bnb4bitUseDoubleQuant,
      bnb_4bit_compute_dtype: this.bnb4bitComputeDtype === "bf16" ? "bfloat16" : "float32",
    };
  }

  /** Whether any quantisation is asked for. */
  get quantizes(): boolean {
    return this.loadIn8bit || this.loadIn4bit;
  }
  /** The storage format of quantised Linear weights ("int8", "nf4" or "fp4"). */
  get format(): string {
    return this.loadIn8bit ? "int8" : this.bnb4bitQuantType;
  }
  /** Compute dtype of the quantised layers (bnb_4bit_compute_dtype; 8-bit layers compute in f32). */
  get computeDtype(): BnbComputeDtype {
    return this.loadIn4bit ? this.bnb4bitComputeDtype : "f32";
  }
}
