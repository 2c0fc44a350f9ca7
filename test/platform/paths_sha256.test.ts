// The core's own POSIX paths and SHA-256 (no node:path / node:crypto in the core) agree with Node's
// on seeded random inputs: paths of "", ".", "..", repeated and trailing slashes, dotted names; hash
// updates of random sizes across the 64-byte block boundaries, strings with multi-byte characters.
import { test } from "node:test";
import assert from "node:assert/strict";
import { posix } from "node:path";
import { createHash } from "node:crypto";
import * as paths from "../../src/platform/paths.js";
import { Sha256, sha256Hex } from "../../src/platform/sha256.js";
import { Rng } from "../../src/tensor/random.js";

test("paths.ts equals node:path posix on 3,000 random paths (normalize, join, resolve, dirname, basename, extname, relative)", () => {
  const rng = new Rng(7);
  const segs = ["", "a", "b", ".", "..", "/", "//", "a.b", ".x", "c.", "..."];
  const pick = () => segs[Math.floor(rng.random() * segs.length)];
  const randomPath = () => Array.from({ length: 1 + Math.floor(rng.random() * 5) }, () => pick() + (rng.random() < 0.6 ? "/" : "")).join("");
  for (let t = 0; t < 3000; t++) {
    const a = randomPath(), b = randomPath();
    const cases: [string, string, string][] = [
      ["normalize", paths.normalize(a), posix.normalize(a)], ["join", paths.join(a, b), posix.join(a, b)],
      ["resolve", paths.resolve(a, b), posix.resolve(a, b)], ["dirname", paths.dirname(a), posix.dirname(a)],
      ["basename", paths.basename(a), posix.basename(a)], ["extname", paths.extname(a), posix.extname(a)],
      ["relative", paths.relative(a, b), posix.relative(a, b)], ["isAbsolute", String(paths.isAbsolute(a)), String(posix.isAbsolute(a))],
    ];
    for (const [fn, ours, node] of cases) assert.equal(ours, node, `${fn}(${JSON.stringify(a)}, ${JSON.stringify(b)})`);
  }
});

test("sha256.ts equals node:crypto on 500 random update sequences", () => {
  const rng = new Rng(11);
  assert.equal(sha256Hex(""), createHash("sha256").update("").digest("hex"));
  for (let t = 0; t < 500; t++) {
    const ours = new Sha256(), node = createHash("sha256");
    for (let p = Math.floor(rng.random() * 5); p > 0; p--) {
      const n = Math.floor(rng.random() * (rng.random() < 0.2 ? 300 : 70));
      if (rng.random() < 0.5) {
        const s = "é€".repeat(n % 5) + "x".repeat(n);
        ours.update(s);
        node.update(s);
      } else {
        const u = Uint8Array.from({ length: n }, () => Math.floor(rng.random() * 256));
        ours.update(u);
        node.update(u);
      }
    }
    assert.equal(ours.digestHex(), node.digest("hex"));
  }
});
