// The in-memory file system (src/platform/memory_files.ts) against what node:fs does for the same
// calls, the crash-safe writers over it, and the async mount helpers (fetch from a local server,
// File/Blob objects); OPFS/IndexedDB persistence runs in test/browser/browser.test.ts.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { MemoryFiles } from "../../src/platform/memory_files.js";
import { mountBlobs, mountUrl } from "../../src/platform/memory_mount.js";
import { persistToOpfs } from "../../src/platform/memory_persist.js";
import { getFiles, setFiles } from "../../src/platform/files.js";
import { atomicWriteDir, atomicWriteFile, assertInside } from "../../src/io/fs.js";
import { ConfigError, PeftError } from "../../src/tensor/errors.js";

const code = (c: string) => (e: unknown) => (e as { code?: string }).code === c;
const text = (b: Uint8Array) => new TextDecoder().decode(b);

/** Runs fn with `mem` as the library's file system, then puts the previous one back. */
async function withFiles<T>(mem: MemoryFiles, fn: () => T | Promise<T>): Promise<T> {
  const prev = setFiles(mem);
  try {
    return await fn();
  } finally {
    setFiles(prev!);
  }
}

test("files: write, read, ranges, stat, readdir; parents are implied, errors carry node:fs codes", () => {
  const m = new MemoryFiles();
  m.writeFile("/a/b/c.txt", "hello");
  m.appendFile("/a/b/c.txt", new Uint8Array([0x21]));
  assert.equal(m.readText("/a/b/c.txt"), "hello!");
  assert.deepEqual(m.stat("/a/b/c.txt"), { ...m.stat("/a/b/c.txt"), size: 6, isFile: true, isDirectory: false });
  assert.equal(m.stat("/a/b").isDirectory, true);
  assert.deepEqual(m.readdir("/a").sort(), ["b"]);
  const h = m.openRead("/a/b/c.txt");
  const dst = new Uint8Array(4);
  assert.equal(h.read(dst, 1, 3, 2), 3);
  assert.equal(text(dst.subarray(1)), "llo");
  assert.equal(h.read(dst, 0, 4, 6), 0, "0 bytes at the end");
  h.close();
  assert.throws(() => m.readFile("/a/nope"), code("ENOENT"));
  assert.throws(() => m.readFile("/a/b"), code("EISDIR"));
  assert.throws(() => m.stat("/zzz"), code("ENOENT"));
  assert.throws(() => m.readdir("/a/b/c.txt"), code("ENOTDIR"));
  assert.throws(() => m.mkdir("/a/b/c.txt/d"), code("ENOTDIR"));
  assert.throws(() => m.mkdir("/x/y", { recursive: false }), code("ENOENT"));
  m.mkdir("/empty");
  assert.deepEqual(m.readdir("/empty"), []);
  assert.equal(m.readText("/a/../a/./b/c.txt"), "hello!", "paths are normalised");
  // the text keeps a byte-order mark, as readFileSync(path, "utf8") does
  m.writeFile("/bom.txt", new Uint8Array([0xef, 0xbb, 0xbf, 0x41]));
  assert.equal(m.readText("/bom.txt"), "\ufeffA");
});

test("files: rename moves files and whole folders; rm, rmdir and their refusals", () => {
  const m = new MemoryFiles();
  m.writeFile("/d/x/1.bin", new Uint8Array([1]));
  m.writeFile("/d/x/sub/2.bin", new Uint8Array([2]));
  m.rename("/d/x", "/d/y");
  assert.deepEqual(m.list("/d"), ["/d/y/1.bin", "/d/y/sub/2.bin"]);
  assert.equal(m.exists("/d/x"), false);
  m.writeFile("/d/z/keep", "k");
  assert.throws(() => m.rename("/d/y", "/d/z"), code("ENOTEMPTY"));
  assert.throws(() => m.rename("/d/nope", "/d/w"), code("ENOENT"));
  m.rename("/d/y/1.bin", "/d/z/keep");
  assert.deepEqual(Array.from(m.readFile("/d/z/keep")), [1], "a file rename replaces the target");
  assert.throws(() => m.rm("/d/y"), code("ERR_FS_EISDIR"));
  assert.throws(() => m.rmdir("/d/y"), code("ENOTEMPTY"));
  m.rm("/d/y", { recursive: true });
  m.rm("/d/y", { force: true });
  assert.throws(() => m.rm("/d/y"), code("ENOENT"));
  assert.deepEqual(m.list("/"), ["/d/z/keep"]);
  assert.deepEqual(m.usage(), { files: 1, bytes: 1, dirs: 3 });
});

test("the crash-safe writers over memory files: atomicWriteFile, atomicWriteDir (failed fill keeps the old folder), assertInside", async () => {
  const m = new MemoryFiles();
  await withFiles(m, async () => {
    atomicWriteFile("/run/a.json", "{}");
    atomicWriteFile("/run/a.json", new Uint8Array([0x5b, 0x5d]));
    assert.equal(m.readText("/run/a.json"), "[]");
    await atomicWriteDir("/run/ckpt", (tmp) => getFiles().writeFile(`${tmp}/w.bin`, "v1"));
    await assert.rejects(atomicWriteDir("/run/ckpt", (tmp) => {
      getFiles().writeFile(`${tmp}/w.bin`, "v2");
      throw new Error("disk full");
    }), /disk full/);
    assert.equal(m.readText("/run/ckpt/w.bin"), "v1");
    await atomicWriteDir("/run/ckpt", (tmp) => getFiles().writeFile(`${tmp}/w.bin`, "v3"));
    assert.equal(m.readText("/run/ckpt/w.bin"), "v3");
    assert.deepEqual(m.readdir("/run").sort(), ["a.json", "ckpt"], "no temporary siblings left");
    assert.throws(() => getFiles().writeAtomic("/run/b", () => { throw new Error("boom"); }), /boom/);
    assert.equal(m.exists("/run/b"), false);
    assert.equal(assertInside("/run", "ckpt/w.bin", "file"), "/run/ckpt/w.bin");
    assert.throws(() => assertInside("/run", "../etc", "file"), PeftError);
  });
});

test("mountUrl fetches names from a same-origin base URL; mountBlobs keeps a dropped folder's relative paths", async () => {
  const served: Record<string, string> = { "/m/config.json": '{"a":1}', "/m/tok.json": "[]" };
  const server = createServer((req, res) => {
    const body = served[req.url ?? ""];
    res.writeHead(body === undefined ? 404 : 200).end(body);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  try {
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/m/`;
    const m = new MemoryFiles();
    const got = await mountUrl(m, "/models/m", base, ["config.json", "tok.json", "extra.json"], { optional: ["extra.json"] });
    assert.deepEqual(got, ["/models/m/config.json", "/models/m/tok.json"]);
    assert.equal(m.readText("/models/m/config.json"), '{"a":1}');
    await assert.rejects(mountUrl(m, "/x", base, ["missing.json"]), (e: unknown) => e instanceof ConfigError && /HTTP 404/.test((e as Error).message));
  } finally {
    await new Promise<void>((r) => server.close(() => r()));
  }
  const m = new MemoryFiles();
  const a = Object.assign(new File(["{}"], "config.json"), { webkitRelativePath: "my-model/config.json" });
  const b = new File([new Uint8Array([1, 2, 3])], "data.bin");
  assert.deepEqual(await mountBlobs(m, "/drop", [a, b]), ["/drop/my-model/config.json", "/drop/data.bin"]);
  assert.deepEqual(Array.from(m.readFile("/drop/data.bin")), [1, 2, 3]);
  const evil = Object.assign(new File(["x"], "x"), { webkitRelativePath: "../x" });
  await assert.rejects(mountBlobs(m, "/drop", [evil]), ConfigError);
});

test("persistToOpfs without OPFS or IndexedDB (Node) says so", async () => {
  await assert.rejects(persistToOpfs(new MemoryFiles(), "/run"), /neither OPFS nor IndexedDB/);
});
