// Builds the English→German corpus under data/translation/en-de/ from the gettext catalogues of
// the installed Debian packages (/usr/share/locale/de/LC_MESSAGES/*.mo: msgid → msgstr).
//
//   node --import tsx scripts/build_gettext_corpus.mjs [--locale-dir DIR] [--out DIR] [--seed N] [--no-sources]
//
// Each catalogue is parsed by src/io/gettext_mo.ts; plural entries give two pairs (singular and
// plural form); msgctxt is dropped. Left out, with counts: empty or identical translations,
// strings that are only format directives / markup or mostly so, strings longer than
// MAX_CHARS or with more than MAX_LINES lines, pairs already seen in the same split, and dev/test
// strings whose English also occurs in train. The Debian package owning each file comes from
// `dpkg -S`, its licence from /usr/share/doc/<package>/copyright. Packages are shuffled with a
// seeded Rng and assigned whole to test, then dev, then train, so test strings come from
// packages unseen in training. Writes {train,dev,test}.jsonl rows
// {"translation":{"en","de"},"package"}, stats.json, and the corpus section of data/SOURCES.md.

import { execFileSync } from "node:child_process";
import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseMo } from "../src/io/gettext_mo.ts";
import { Rng } from "../src/tensor/random.ts";

const ROOT = join(fileURLToPath(import.meta.url), "..", "..");
const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : dflt;
};
const LOCALE_DIR = opt("--locale-dir", "/usr/share/locale/de/LC_MESSAGES");
const OUT = opt("--out", join(ROOT, "data", "translation", "en-de"));
const SEED = Number(opt("--seed", "19"));
const MAX_CHARS = 120;
const MAX_LINES = 2;
/** Shares of the entries that go to test and dev; a package above BIG_SHARE stays in train. */
const TEST_SHARE = 0.1, DEV_SHARE = 0.05, BIG_SHARE = 0.06;

// printf directives (with positional args, flags, width, precision, length; %<PRIu64>), Python/
// ICU braces, shell/@autoconf@ variables, XML/HTML tags and entities
const PLACEHOLDERS = /%(\d+\$)?[-+ #0']*(\*|\d+)?(\.(\*|\d+))?(hh|h|ll|l|L|q|j|z|Z|t)?[diouxXeEfFgGaAcspnm%]|%<PRI\w+>|\{[\w.:!\[\]-]*\}|\$\{\w+\}|\$\w+|@\w+@|<\/?[A-Za-z][^<>]*>|&[A-Za-z#0-9]+;/g;

/** Why a pair is left out, or null to keep it. */
function reject(en, de) {
  if (de === "" || en === "") return "empty";
  if (de === en) return "identical (untranslated)";
  if (en.length > MAX_CHARS || en.split("\n").length > MAX_LINES) return `longer than ${MAX_CHARS} chars or ${MAX_LINES} lines`;
  const stripped = en.replace(PLACEHOLDERS, "");
  if ((stripped.match(/\p{L}/gu) ?? []).length < 2) return "format directives / markup only";
  const nonSpace = en.replace(/\s/g, "").length;
  const markup = nonSpace - stripped.replace(/\s/g, "").length;
  if (markup > 0.5 * nonSpace) return "mostly placeholders / markup";
  return null;
}

/** Owning Debian package per file (dpkg -S); files no package owns map to their text domain. */
function owners(paths) {
  const map = new Map();
  let out = "";
  try {
    out = execFileSync("dpkg", ["-S", ...paths], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] });
  } catch (e) {
    out = e.stdout ?? ""; // exit 1 when some path is unowned; the owned ones are still listed
  }
  for (const line of out.split("\n")) {
    const k = line.lastIndexOf(": ");
    // "libelf1:amd64, …: path" → the first package, without its architecture qualifier
    if (k > 0) map.set(line.slice(k + 2), line.slice(0, k).split(",")[0].trim().replace(/:[a-z0-9]+$/, ""));
  }
  return map;
}

/** Licence of a package's translations from its Debian copyright file (a po/* paragraph wins over Files: *). */
function licenceOf(pkg) {
  const file = `/usr/share/doc/${pkg}/copyright`;
  if (!existsSync(file)) return `unknown (no ${file})`;
  const text = readFileSync(file, "utf8");
  if (/^Format:/m.test(text)) {
    const paras = text.split(/\n\s*\n/);
    const licenceOfFiles = (re) => {
      const p = paras.find((x) => re.test(x) && /^License:/m.test(x));
      return p ? /^License:\s*(.*)$/m.exec(p)[1].trim() : null;
    };
    const lic = licenceOfFiles(/^Files:.*\bpo\/\*/m) ?? licenceOfFiles(/^Files:\s*\*\s*$/m);
    if (lic) return lic;
    // no po/* or * paragraph: the licence most paragraphs name
    const tally = new Map();
    for (const m of text.matchAll(/^License:\s*(\S.*)$/gm)) tally.set(m[1].trim(), (tally.get(m[1].trim()) ?? 0) + 1);
    const top = [...tally].sort((a, b) => b[1] - a[1])[0];
    if (top) return `${top[0]} (most Files paragraphs)`;
  }
  const common = /common-licenses\/([A-Za-z0-9.+-]+[A-Za-z0-9+])/.exec(text);
  if (common) return `${common[1]} (free-form copyright file)`;
  if (/Permission is hereby granted|sublicense, and\/or sell/i.test(text)) return "MIT/X11-style (free-form copyright file)";
  const gpl = /GNU (Lesser|Library)? ?General Public License[^.]*?version (\d(\.\d)?)/is.exec(text);
  if (gpl) return `${gpl[1] ? "LGPL" : "GPL"}-${gpl[2]}${/any later version/i.test(text) ? "+" : ""} (free-form copyright file)`;
  return `see ${file}`;
}

function shuffle(items, rng) {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(rng.random() * (i + 1));
    [items[i], items[j]] = [items[j], items[i]];
  }
  return items;
}

function main() {
  const counts = { files: 0, symlinksSkipped: 0, filesConverted: 0, filesDropped: 0, pairsRead: 0, dropped: {} };
  const drop = (why) => (counts.dropped[why] = (counts.dropped[why] ?? 0) + 1);
  const names = readdirSync(LOCALE_DIR).filter((n) => n.endsWith(".mo")).sort();
  const files = [];
  for (const n of names) {
    const p = join(LOCALE_DIR, n);
    if (lstatSync(p).isSymbolicLink()) counts.symlinksSkipped++; // iso_639.mo → iso_639-2.mo etc.
    else files.push(p);
  }
  const owner = owners(files);
  /** package → { domains, pairs: [en, de][] } */
  const packages = new Map();
  const droppedFiles = [];
  for (const p of files) {
    let cat;
    try {
      cat = parseMo(readFileSync(p), p);
    } catch (e) {
      counts.filesDropped++;
      droppedFiles.push(`${p}: ${e.message}`);
      continue;
    }
    counts.files++;
    if (!/^utf-?8$/.test(cat.charset)) counts.filesConverted++;
    const domain = p.split("/").pop().replace(/\.mo$/, "");
    const pkg = owner.get(p) ?? domain;
    if (!packages.has(pkg)) packages.set(pkg, { domains: [], pairs: [] });
    const entry = packages.get(pkg);
    entry.domains.push(domain);
    for (const e of cat.entries) {
      const forms = [[e.msgid, e.msgstr[0] ?? ""]];
      if (e.msgidPlural !== undefined) forms.push([e.msgidPlural, e.msgstr[1] ?? ""]);
      for (const [en, de] of forms) {
        counts.pairsRead++;
        const why = reject(en, de);
        if (why) drop(why);
        else entry.pairs.push([en, de]);
      }
    }
  }
  // whole packages to test, then dev, then train, in a seeded shuffled order
  const total = [...packages.values()].reduce((s, x) => s + x.pairs.length, 0);
  const order = shuffle([...packages.keys()].sort(), new Rng(SEED));
  const split = new Map();
  let nTest = 0, nDev = 0;
  for (const pkg of order) {
    const n = packages.get(pkg).pairs.length;
    if (n === 0 || n > BIG_SHARE * total) split.set(pkg, "train");
    else if (nTest < TEST_SHARE * total) { split.set(pkg, "test"); nTest += n; }
    else if (nDev < DEV_SHARE * total) { split.set(pkg, "dev"); nDev += n; }
    else split.set(pkg, "train");
  }
  const rows = { train: [], dev: [], test: [] };
  const seenEn = new Set();
  for (const which of ["train", "test", "dev"]) {
    const seenPair = new Set();
    const enHere = new Set();
    for (const pkg of [...packages.keys()].sort()) {
      if (split.get(pkg) !== which) continue;
      for (const [en, de] of packages.get(pkg).pairs) {
        const key = `${en}\u0000${de}`;
        if (seenPair.has(key)) { drop("duplicate pair in the same split"); continue; }
        if (seenEn.has(en)) { drop(which === "test" ? "test: English string also in train" : "dev: English string also in train or test"); continue; }
        seenPair.add(key);
        enHere.add(en);
        rows[which].push({ translation: { en, de }, package: pkg });
      }
    }
    for (const en of enHere) seenEn.add(en);
  }
  mkdirSync(OUT, { recursive: true });
  for (const which of ["train", "dev", "test"]) writeFileSync(join(OUT, `${which}.jsonl`), rows[which].map((r) => JSON.stringify(r)).join("\n") + "\n");
  const perPackage = [...packages.keys()].sort().map((pkg) => ({
    package: pkg,
    domains: packages.get(pkg).domains,
    split: split.get(pkg),
    pairs: { train: 0, dev: 0, test: 0 },
    licence: licenceOf(pkg),
  }));
  const byName = new Map(perPackage.map((x) => [x.package, x]));
  for (const which of ["train", "dev", "test"]) for (const r of rows[which]) byName.get(r.package).pairs[which]++;
  const stats = {
    localeDir: LOCALE_DIR, seed: SEED, maxChars: MAX_CHARS, maxLines: MAX_LINES, ...counts, droppedFiles,
    rows: { train: rows.train.length, dev: rows.dev.length, test: rows.test.length }, packages: perPackage,
  };
  writeFileSync(join(OUT, "stats.json"), JSON.stringify(stats, null, 1) + "\n");
  if (!args.includes("--no-sources")) writeSourcesSection(stats);
  console.log(`rows: train ${rows.train.length}, dev ${rows.dev.length}, test ${rows.test.length}; files ${counts.files} (${counts.filesConverted} converted, ${counts.filesDropped} dropped); pairs read ${counts.pairsRead}`);
  console.log("dropped:", counts.dropped);
}

const BEGIN = "<!-- gettext-corpus:begin (written by scripts/build_gettext_corpus.mjs) -->";
const END = "<!-- gettext-corpus:end -->";

/** Replaces (or appends) the corpus section of data/SOURCES.md. */
function writeSourcesSection(stats) {
  const md = [
    BEGIN,
    "## translation/en-de/ — English→German pairs from the installed gettext catalogues",
    "",
    `Made by \`node --import tsx scripts/build_gettext_corpus.mjs\` (seed ${stats.seed}) from \`${stats.localeDir}/*.mo\` on the machine`,
    "that built it (which catalogues exist depends on the installed packages). Rows are",
    '`{"translation":{"en":…,"de":…},"package":…}`: msgid → msgstr, plural entries as two pairs (singular, plural),',
    "msgctxt dropped, strings kept byte for byte (trailing newlines, `_`/`&` mnemonics and format directives included).",
    "Split by Debian package: every package's strings are in one split, so test and dev strings come from",
    "packages unseen in training; English strings that occur in train are also removed from dev/test.",
    "",
    `Files read: ${stats.files} (${stats.symlinksSkipped} symlinks to other catalogues skipped, ${stats.filesConverted} converted from a non-UTF-8 charset,`,
    `${stats.filesDropped} unreadable and dropped). Pairs read: ${stats.pairsRead}. Rows: train ${stats.rows.train}, dev ${stats.rows.dev}, test ${stats.rows.test}.`,
    "",
    "Left out:",
    "",
    ...Object.entries(stats.dropped).map(([k, v]) => `- ${k}: ${v}`),
    "",
    "Licence: each catalogue's translations are distributed under the licence of the package they come from",
    "(as their PO headers say); the column gives that licence from the package's /usr/share/doc/<package>/copyright",
    "(the `po/*` paragraph when there is one, else `Files: *`).",
    "",
    "| package | text domains | split | train | dev | test | licence |",
    "|---|---|---|---|---|---|---|",
    ...stats.packages.map((p) => `| ${p.package} | ${p.domains.join(", ")} | ${p.split} | ${p.pairs.train} | ${p.pairs.dev} | ${p.pairs.test} | ${p.licence.replace(/\|/g, "/")} |`),
    END,
  ].join("\n");
  const file = join(ROOT, "data", "SOURCES.md");
  const old = readFileSync(file, "utf8");
  const a = old.indexOf(BEGIN), b = old.indexOf(END);
  const next = a >= 0 && b > a ? old.slice(0, a) + md + old.slice(b + END.length) : `${old.trimEnd()}\n\n${md}\n`;
  writeFileSync(file, next);
}

main();
