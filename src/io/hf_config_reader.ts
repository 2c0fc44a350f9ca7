// Typed field access on a config.json object: each read applies the default when absent and names the field when wrong.

import { ConfigError } from "../tensor/errors.js";

export type Json = Record<string, unknown>;

/** Largest size field accepted (2^31 - 1: sizes index typed arrays). */
export const MAX_CONFIG_SIZE = 2 ** 31 - 1;

export class Reader {
  constructor(readonly json: Json, readonly source: string) {}
  private bad(key: string, want: string): never {
    throw new ConfigError(`${this.source}: field '${key}' must be ${want}, got ${JSON.stringify(this.json[key])}`);
  }
  has(key: string): boolean {
    return this.json[key] !== undefined && this.json[key] !== null;
  }
  num(key: string, def: number): number {
    const v = this.json[key];
    if (v === undefined || v === null) return def;
    if (typeof v !== "number" || !Number.isFinite(v)) this.bad(key, "a number");
    return v;
  }
  int(key: string, def: number): number {
    const v = this.num(key, def);
    if (!Number.isInteger(v)) this.bad(key, "an integer");
    return v;
  }
  /** A size: an integer in [1, MAX_CONFIG_SIZE]. */
  posInt(key: string, def: number): number {
    const v = this.int(key, def);
    if (v <= 0 || v > MAX_CONFIG_SIZE) this.bad(key, `a positive integer (at most ${MAX_CONFIG_SIZE})`);
    return v;
  }
  /** A count that may be 0: an integer in [0, MAX_CONFIG_SIZE]. */
  count(key: string, def: number): number {
    const v = this.int(key, def);
    if (v < 0 || v > MAX_CONFIG_SIZE) this.bad(key, `an integer from 0 to ${MAX_CONFIG_SIZE}`);
    return v;
  }
  optPosInt(key: string, def: number | null): number | null {
    const v = this.json[key];
    if (v === undefined || v === null) return def;
    return this.posInt(key, 1);
  }
  optInt(key: string, def: number | null): number | null {
    const v = this.json[key];
    if (v === undefined || v === null) return def;
    return this.int(key, 0);
  }
  optNum(key: string, def: number | null): number | null {
    const v = this.json[key];
    if (v === undefined || v === null) return def;
    return this.num(key, 0);
  }
  bool(key: string, def: boolean): boolean {
    const v = this.json[key];
    if (v === undefined || v === null) return def;
    if (typeof v !== "boolean") this.bad(key, "true or false");
    return v;
  }
  str(key: string, def: string): string {
    const v = this.json[key];
    if (v === undefined || v === null) return def;
    if (typeof v !== "string") this.bad(key, "a string");
    return v;
  }
  intOrList(key: string, def: number | number[] | null): number | number[] | null {
    const v = this.json[key];
    if (v === undefined || v === null) return def;
    if (Array.isArray(v)) {
      if (!v.every((x) => Number.isInteger(x))) this.bad(key, "an integer or a list of integers");
      return v as number[];
    }
    return this.int(key, 0);
  }
  strList(key: string): string[] {
    const v = this.json[key];
    if (v === undefined || v === null) return [];
    if (!Array.isArray(v) || !v.every((x) => typeof x === "string")) this.bad(key, "a list of strings");
    return v as string[];
  }
  object(key: string): Json | null {
    const v = this.json[key];
    if (v === undefined || v === null) return null;
    if (typeof v !== "object" || Array.isArray(v)) this.bad(key, "an object");
    return v as Json;
  }
}
