import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { assertInside, atomicWriteDir, atomicWriteFile } from "../../src/io/fs.js";
import { PeftError } from "../../src/tensor/errors.js";

function tmp(): string {
  return mkdtempSync(join(tmpdir(), "peft-ts-fs-"));
}

test("atomicWriteFile writes strings and bytes, replaces, leaves no temp files", () => {
  const d = tmp();
  try {
    const p = join(d, "sub", "a.json");
    atomicWriteFile(p, "héllo");
    assert.equal(readFileSync(p, "utf8"), "héllo");
    atomicWriteFile(p, Uint8Array.from([1, 2, 3]));
    assert.deepEqual([...readFileSync(p)], [1, 2, 3]);
    assert.deepEqual(readdirSync(join(d, "sub")), ["a.json"]);
  } finally {
    rmSync(d, { recursive: true, force: true });
  }
});

test("atomicWriteDir: complete dir appears; a failing fill leaves the old dir intact and no temp dirs", async () => {
  const d = tmp();
  try {
    const final = join(d, "checkpoint-1");
    await atomicWriteDir(final, (t) => {
      writeFileSync(join(t, "a.txt"), "one");
      mkdirSync(join(t, "nested"));
      writeFileSync(join(t, "nested", "b.txt"), "two");
    });
    assert.equal(readFileSync(join(final, "nested", "b.txt"), "utf8"), "two");
    await assert.rejects(atomicWriteDir(final, async (t) => {
      writeFileSync(join(t, "a.txt"), "half");
      throw new Error("disk full");
    }), /disk full/);
    assert.equal(readFileSync(join(final, "a.txt"), "utf8"), "one");
    assert.deepEqual(readdirSync(d), ["checkpoint-1"]);
    // replacing an existing dir
    await atomicWriteDir(final, (t) => writeFileSync(join(t, "c.txt"), "three"));
    assert.deepEqual(readdirSync(final), ["c.txt"]);
    assert.deepEqual(readdirSync(d), ["checkpoint-1"]);
  } finally {
    rmSync(d, { recursive: true, force: true });
  }
});

test("assertInside rejects escapes (.., absolute, symlink) and accepts inside paths", () => {
  const d = tmp();
  try {
    const root = join(d, "root");
    mkdirSync(root);
    assert.equal(assertInside(root, "a/b.txt", "file"), join(root, "a/b.txt"));
    assert.equal(assertInside(root, join(root, "x"), "file"), join(root, "x"));
    for (const bad of ["../x", "a/../../x", "/etc/passwd"]) {
      assert.throws(() => assertInside(root, bad, "adapter file"), (e: any) => e instanceof PeftError && /adapter file/.test(e.message) && e.message.includes(bad));
    }
    mkdirSync(join(d, "outside"));
    symlinkSync(join(d, "outside"), join(root, "link"));
    assert.throws(() => assertInside(root, "link/new.txt", "file"), PeftError);
    assert.ok(!existsSync(join(d, "outside", "new.txt")));
  } finally {
    rmSync(d, { recursive: true, force: true });
  }
});
