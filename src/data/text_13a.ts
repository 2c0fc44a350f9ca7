// Text helpers that reproduce Python's string semantics where sacrebleu relies on them: the
// str.isspace() set (str.split(), str.rstrip()), code-point indexing, and sacrebleu's default
// "13a" tokeniser (mteval-v13a.pl's rules as documented by sacrebleu).

/** Exactly the code points Python 3's str.isspace() accepts (JS's \s differs: it has U+FEFF, lacks U+001C–U+001F and U+0085). */
const PY_SPACE = "\\t\\n\\v\\f\\r\\x1c-\\x1f \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000";
const SPLIT = new RegExp(`[${PY_SPACE}]+`, "u");
const TRAILING = new RegExp(`[${PY_SPACE}]+$`, "u");

/** Python's str.split() with no argument: runs of whitespace separate, no empty pieces. */
export function pySplit(s: string): string[] {
  return s.split(SPLIT).filter((w) => w.length > 0);
}

/** Python's str.rstrip() with no argument. */
export function pyRstrip(s: string): string {
  return s.replace(TRAILING, "");
}

/** Code points of a string (Python indexes strings by code point, JS by UTF-16 unit). */
export function codePoints(s: string): string[] {
  return Array.from(s);
}

// mteval-v13a's language-dependent rules, applied in this order:
// 1. ASCII punctuation and symbols other than . , - ' become separate tokens
const SYMBOLS = /([{-~[-` -&(-+:-@/])/gu;
// 2./3. a period or comma splits off unless it sits between digits
const PERIOD_AFTER = /([^0-9])([.,])/gu;
const PERIOD_BEFORE = /([.,])([^0-9])/gu;
// 4. a dash after a digit splits off
const DASH_AFTER_DIGIT = /([0-9])(-)/gu;

/**
 * sacrebleu's Tokenizer13a: drops "<skipped>", joins "-\n" hyphenations, turns newlines into
 * spaces, unescapes &quot; &amp; &lt; &gt; (in that order), applies the four rules above to the
 * line with a space on each side, and joins the pieces with single spaces.
 */
export function tokenize13a(line: string): string {
  let s = line.split("<skipped>").join("").split("-\n").join("").split("\n").join(" ");
  if (s.includes("&")) s = s.split("&quot;").join('"').split("&amp;").join("&").split("&lt;").join("<").split("&gt;").join(">");
  s = ` ${s} `
    .replace(SYMBOLS, " $1 ")
    .replace(PERIOD_AFTER, "$1 $2 ")
    .replace(PERIOD_BEFORE, " $1 $2")
    .replace(DASH_AFTER_DIGIT, "$1 $2 ");
  return pySplit(s).join(" ");
}
