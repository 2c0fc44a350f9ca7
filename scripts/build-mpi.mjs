// Builds the optional MPI addon (native/mpi/binding.gyp → native/build/Release/peft_mpi.node),
// called by build-native.mjs after the kernel addon. A separate gyp project: without MPI, or when
// this build fails, the kernel addon and everything else are unaffected; it never fails the install.
// MPI is found through the compiler wrapper (`mpicc --showme:compile` / `--showme:link`, OpenMPI;
// PEFT_TS_MPICC names another wrapper) or else `pkg-config ompi`. PEFT_TS_SKIP_MPI=1 skips it.
import { copyFileSync, existsSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { spawnSync } from "node:child_process";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";

function run(cmd, args, env) {
  const r = spawnSync(cmd, args, { encoding: "utf8", env });
  return r.status === 0 ? r.stdout.trim() : null;
}

/** { cflags, libs, via } of the MPI found on this machine, or { why } when there is none. */
export function detectMpi(env = process.env) {
  const mpicc = env.PEFT_TS_MPICC || "mpicc";
  const compile = run(mpicc, ["--showme:compile"], env);
  const link = compile !== null ? run(mpicc, ["--showme:link"], env) : null;
  if (compile !== null && link !== null) return { cflags: compile, libs: link, via: `${mpicc} --showme` };
  const pc = run("pkg-config", ["--cflags", "--libs", "ompi"], env);
  if (pc !== null) {
    const cflags = pc.split(/\s+/).filter((f) => f.startsWith("-I")).join(" ");
    const libs = pc.split(/\s+/).filter((f) => !f.startsWith("-I")).join(" ");
    return { cflags, libs, via: "pkg-config ompi" };
  }
  return { why: `no ${mpicc} (OpenMPI --showme) and no pkg-config ompi` };
}

function nodeGyp(root) {
  const bin = join(root, "node_modules", ".bin", "node-gyp");
  if (existsSync(bin)) return [bin, []];
  try {
    return [process.execPath, [createRequire(join(root, "package.json")).resolve("node-gyp/bin/node-gyp.js")]];
  } catch {
    return ["npx", ["--yes", "node-gyp"]];
  }
}

/** Builds peft_mpi.node when MPI is there; prints exactly one line either way. Returns true when built. */
export function buildMpi({ root, verbose = false, env = process.env }) {
  const dest = join(root, "native", "build", "Release", "peft_mpi.node");
  const logPath = join(root, "native", "build", "build-mpi.log");
  if (env.PEFT_TS_SKIP_MPI === "1") {
    console.log("peft-ts: PEFT_TS_SKIP_MPI=1, skipping the MPI addon (multi-process training off)");
    return false;
  }
  const mpi = detectMpi(env);
  const stale = () => {
    rmSync(dest, { force: true });
    rmSync(join(root, "native", "mpi", "build"), { recursive: true, force: true });
  };
  if (!mpi.cflags && !mpi.libs) {
    stale();
    console.log(`peft-ts: MPI not found (${mpi.why}); multi-process training is off. To enable it: apt-get install openmpi-bin libopenmpi-dev, then npm run build:native`);
    return false;
  }
  // the -L directories also go in as rpath: libmpi found at run time without LD_LIBRARY_PATH
  const rpath = mpi.libs.split(/\s+/).filter((f) => f.startsWith("-L")).map((f) => `-Wl,-rpath,${f.slice(2)}`);
  const dir = join(root, "native", "mpi");
  const nodeDir = dirname(dirname(process.execPath));
  const gypExtra = existsSync(join(nodeDir, "include", "node", "common.gypi")) ? [`--nodedir=${nodeDir}`] : [];
  const [cmd, pre] = nodeGyp(root);
  const res = spawnSync(cmd, [...pre, "rebuild", `--directory=${dir}`, ...gypExtra], {
    cwd: root,
    env: { ...env, PEFT_MPI_CFLAGS: mpi.cflags, PEFT_MPI_LIBS: [mpi.libs, ...rpath].join(" ") },
    encoding: "utf8",
    stdio: verbose ? "inherit" : "pipe",
    maxBuffer: 64 << 20,
  });
  mkdirSync(dirname(logPath), { recursive: true });
  let log = `### MPI via ${mpi.via}: ${mpi.cflags} | ${mpi.libs}\n${res.stdout ?? ""}\n${res.stderr ?? ""}\n${res.error ?? ""}\n`;
  const built = join(dir, "build", "Release", "peft_mpi.node");
  let ok = res.status === 0 && existsSync(built);
  if (ok) {
    // load it in a child process (without initialising MPI): catches missing shared libraries
    const probe = spawnSync(process.execPath, ["-e", `require(${JSON.stringify(built)})`], { encoding: "utf8" });
    log += `probe: ${probe.status} ${probe.stdout}${probe.stderr}\n`;
    ok = probe.status === 0;
  }
  writeFileSync(logPath, log);
  if (!ok) {
    stale();
    console.warn(`peft-ts: MPI addon not built (${res.status === 0 ? "it does not load" : "compilation failed"}); multi-process training is off. Details: ${logPath}`);
    return false;
  }
  mkdirSync(dirname(dest), { recursive: true });
  copyFileSync(built, dest);
  console.log(`peft-ts: MPI addon built (${mpi.via}) → native/build/Release/peft_mpi.node`);
  return true;
}
