import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { requireFile, resolveModelDir } from "../../src/io/hub.js";
import { ConfigError } from "../../src/tensor/errors.js";

const MAIN = "a".repeat(40), DEV = "b".repeat(40);

function fakeCache(): string {
  const d = mkdtempSync(join(tmpdir(), "peft-ts-hub-"));
  const repo = join(d, "hub", "models--org--tiny-model");
  mkdirSync(join(repo, "refs"), { recursive: true });
  writeFileSync(join(repo, "refs", "main"), MAIN + "\n");
  writeFileSync(join(repo, "refs", "dev"), DEV);
  for (const c of [MAIN, DEV]) {
    mkdirSync(join(repo, "snapshots", c), { recursive: true });
    writeFileSync(join(repo, "snapshots", c, "config.json"), JSON.stringify({ rev: c }));
  }
  return d;
}

function withEnv<T>(vars: Record<string, string | undefined>, fn: () => T): T {
  const saved: Record<string, string | undefined> = {};
  for (const k of Object.keys(vars)) {
    saved[k] = process.env[k];
    if (vars[k] === undefined) delete process.env[k];
    else process.env[k] = vars[k];
  }
  try {
    return fn();
  } finally {
    for (const k of Object.keys(saved)) {
      if (saved[k] === undefined) delete process.env[k];
      else process.env[k] = saved[k];
    }
  }
}

test("local dir is returned as is", () => {
  const d = fakeCache();
  try {
    assert.equal(resolveModelDir(d), d);
  } finally {
    rmSync(d, { recursive: true, force: true });
  }
});

test("HF id resolves through refs/<revision> in cacheDir, HF_HUB_CACHE and HF_HOME/hub", () => {
  const d = fakeCache();
  try {
    const hub = join(d, "hub");
    const snap = (c: string) => join(hub, "models--org--tiny-model", "snapshots", c);
    assert.equal(resolveModelDir("org/tiny-model", { cacheDir: hub }), snap(MAIN));
    assert.equal(resolveModelDir("org/tiny-model", { cacheDir: hub, revision: "dev" }), snap(DEV));
    assert.equal(resolveModelDir("org/tiny-model", { cacheDir: hub, revision: DEV }), snap(DEV));
    withEnv({ HF_HUB_CACHE: hub, HUGGINGFACE_HUB_CACHE: undefined, HF_HOME: undefined }, () => {
      assert.equal(resolveModelDir("org/tiny-model"), snap(MAIN));
    });
    withEnv({ HF_HUB_CACHE: undefined, HUGGINGFACE_HUB_CACHE: undefined, HF_HOME: d }, () => {
      assert.equal(resolveModelDir("org/tiny-model"), snap(MAIN));
    });
  } finally {
    rmSync(d, { recursive: true, force: true });
  }
});

test("missing model / revision → ConfigError naming the id and the places searched", () => {
  const d = fakeCache();
  try {
    const hub = join(d, "hub");
    assert.throws(() => resolveModelDir("org/other", { cacheDir: hub }), (e: any) =>
      e instanceof ConfigError && e.message.includes("org/other") && e.message.includes(join(hub, "models--org--other", "refs", "main")));
    assert.throws(() => resolveModelDir("org/tiny-model", { cacheDir: hub, revision: "v9" }), (e: any) =>
      e instanceof ConfigError && e.message.includes("v9"));
    assert.throws(() => resolveModelDir("./no/such/dir"), ConfigError);
  } finally {
    rmSync(d, { recursive: true, force: true });
  }
});

test("requireFile names the file and the folder", () => {
  const d = fakeCache();
  try {
    writeFileSync(join(d, "x.json"), "{}");
    assert.equal(requireFile(d, "x.json", "config"), join(d, "x.json"));
    assert.throws(() => requireFile(d, "config.json", "model config"), (e: any) =>
      e instanceof ConfigError && e.message.includes("config.json") && e.message.includes(d) && e.message.includes("model config"));
  } finally {
    rmSync(d, { recursive: true, force: true });
  }
});
