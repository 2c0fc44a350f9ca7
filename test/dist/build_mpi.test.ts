// The install's MPI step (scripts/build-mpi.mjs) without MPI: one note line, no failure, no addon.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const root = join(fileURLToPath(import.meta.url), "..", "..", "..");
const script = pathToFileURL(join(root, "scripts", "build-mpi.mjs")).href;

function buildIn(dir: string, env: Record<string, string>): { status: number | null; out: string } {
  const code = `import(${JSON.stringify(script)}).then((m) => { const built = m.buildMpi({ root: ${JSON.stringify(dir)}, env: { ...process.env, ...${JSON.stringify(env)} } }); console.log("BUILT=" + built); })`;
  const r = spawnSync(process.execPath, ["-e", code], { encoding: "utf8", timeout: 60_000 });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

test("no MPI on the machine: the MPI step prints one note (how to enable it), exits 0 and removes a stale addon", () => {
  const dir = mkdtempSync(join(tmpdir(), "peft-mpi-build-"));
  try {
    const stale = join(dir, "native", "build", "Release", "peft_mpi.node");
    mkdirSync(join(dir, "native", "build", "Release"), { recursive: true });
    writeFileSync(stale, "stale");
    const r = buildIn(dir, { PEFT_TS_MPICC: "/nonexistent/mpicc", PKG_CONFIG_LIBDIR: "/nonexistent", PKG_CONFIG_PATH: "" });
    assert.equal(r.status, 0, r.out);
    const lines = r.out.trim().split("\n");
    assert.equal(lines.length, 2, r.out); // the note + BUILT=false
    assert.match(lines[0], /^peft-ts: MPI not found \(no \/nonexistent\/mpicc .*\); multi-process training is off\. To enable it: apt-get install openmpi-bin libopenmpi-dev, then npm run build:native$/);
    assert.equal(lines[1], "BUILT=false");
    assert.ok(!existsSync(stale));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("PEFT_TS_SKIP_MPI=1 skips the MPI step with one line", () => {
  const r = buildIn(tmpdir(), { PEFT_TS_SKIP_MPI: "1" });
  assert.equal(r.status, 0);
  assert.match(r.out, /^peft-ts: PEFT_TS_SKIP_MPI=1, skipping the MPI addon .*\nBUILT=false\n$/);
});
