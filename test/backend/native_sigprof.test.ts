// Regression: oneDNN 2.6 corrupted the malloc heap when SIGPROF (V8's --cpu-prof sampler) interrupted
// dnnl_sgemm / a matmul primitive ("corrupted size vs. prev_size while consolidating"). The addon
// now blocks SIGPROF on the calling thread around oneDNN calls; this runs the GEMM shapes of a
// bert-small training step in a child node with a fast CPU profiler and expects a clean exit.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { addonCandidates, nativeAddon, nativeUnavailableReason } from "../../src/backend/native/index.js";

const addon = nativeAddon();
const addonPath = process.env.PEFT_TS_NATIVE_ADDON ?? addonCandidates().find((p) => existsSync(p));
// Without the addon (or without oneDNN in it) there is no oneDNN call to protect: the test then only
// checks that the loader reports why, and the SIGPROF run happens wherever oneDNN is built in (CI).
const withoutOnednn = !addon || process.platform === "win32" || !(addon as any).info().onednn;

test("oneDNN GEMMs survive the V8 CPU profiler's SIGPROF (no heap corruption)", () => {
  if (withoutOnednn) {
    assert.ok(!addon ? nativeUnavailableReason() : !(addon as any).info().onednn, "addon loaded with oneDNN but the check was not run");
    return;
  }
  const script = `
const a = require(process.env.PEFT_SIGPROF_ADDON);
const shapes = [[1024,2048,512,false,true,0],[1024,512,2048,false,true,0],[1024,512,512,false,true,0],[1024,512,8,false,false,1],
  [1024,8,512,false,true,0],[1024,2048,512,false,false,0],[1024,512,2048,false,false,0],[512,8,1024,true,false,0],[8,512,1024,true,false,0],
  [8,512,512,false,true,0],[2,512,8,true,false,0],[8,2,512,false,true,0]];
for (let rep = 0; rep < 4; rep++) for (const [m, n, k, tA, tB, acc] of shapes) {
  const A = new Float32Array(m * k).fill(0.5), B = new Float32Array(k * n).fill(0.25), C = new Float32Array(m * n).fill(1);
  a.matmul(A, B, C, 1, m, n, k, tA, tB, 0, 0, 0, !!acc);
  const want = k * 0.125 + acc;
  for (let i = 0; i < C.length; i += 97) if (C[i] !== want) { console.error("wrong", m, n, k, C[i], want); process.exit(3); }
  const Q = new Float32Array(64 * 128 * 64).fill(0.5), P = new Float32Array(64 * 128 * 128);
  a.matmul(Q, Q, P, 64, 128, 128, 64, false, true, 8192, 8192, 16384, false);
}
console.log("ok");`;
  const dir = mkdtempSync(join(tmpdir(), "peft-sigprof-"));
  try {
    const r = spawnSync(process.execPath, ["--cpu-prof", `--cpu-prof-dir=${dir}`, "--cpu-prof-interval", "100", "-e", script], {
      encoding: "utf8",
      env: { ...process.env, PEFT_SIGPROF_ADDON: addonPath ?? "" },
      timeout: 120_000,
    });
    assert.equal(r.status, 0, `child exited with ${r.status} / ${r.signal}: ${r.stderr}`);
    assert.match(r.stdout, /ok/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
