// Normalisation of a text before the PHI rules run (see src/phi/screen.ts): look-alike digits, separators, letters
// and invisible characters folded to the ASCII the rules read.

/** Printable ASCII plus tab / newline / carriage return: only case needs folding. */
const PLAIN = /^[\t\n\r\x20-\x7e]*$/;
const ANY_DIGIT = /[0-9]/;

/** Lower-case Cyrillic and Greek letters that look like Latin ones (after case folding). */
const LOOKALIKE: Record<string, string> = {
  а: 'a', в: 'b', с: 'c', е: 'e', н: 'h', і: 'i', ј: 'j', к: 'k', м: 'm', о: 'o', р: 'p', ѕ: 's', т: 't', х: 'x', у: 'y',
  α: 'a', β: 'b', ε: 'e', η: 'h', ι: 'i', κ: 'k', μ: 'm', ν: 'n', ο: 'o', ρ: 'p', τ: 't', υ: 'y', χ: 'x', ζ: 'z',
};

/** Runs of characters outside plain ASCII, folded by foldRun. Not /u, a plain class: much faster. */
const NOT_PLAIN = /[^\t\n\r\x20-\x7e]+/g;
/**
 * What a character that means nothing to the rules becomes (a letter of another script, a symbol, an emoji): the
 * rules only ever see ASCII, so the strings they scan are one-byte (twice as fast), and \b, isAlnum and the
 * boundaries behave as they did for the original character (not a word character, not a separator). C0 controls
 * are removed from the text before this is introduced, so it cannot collide with a character of the text.
 */
const OTHER = '\x01';
/**
 * Invisible: C0/C1 controls but tab/newline/CR, format characters (\p{Cf}: U+200B–U+200F, U+2060–U+2064, U+FEFF,
 * U+00AD, U+180E, bidi controls, tags), combining marks (U+034F, variation selectors, accents), Hangul fillers.
 */
const INVISIBLE = /^[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x84\x86-\x9f\p{Cf}\p{Mn}\p{Me}\u034f\u115f\u1160\u3164\uffa0]$/u;
const ND = /^\p{Nd}$/u;
const DASH = /^[\p{Pd}\u2212\u2796\u02d7\u2043\ufe63\uff0d]$/u;
const DOT = /^[\u00b7\u2022\u2027\u2219\u22c5\u30fb\u3002\uff0e\uff61\uff65]$/u;
const SLASH = /^[\u2044\u2215\u29f8\uff0f]$/u;
const SPACE = /^[\p{Zs}\u2028\u2029\x85]$/u;

/**
 * The ASCII digit of a Unicode decimal digit. Unicode encodes every decimal digit set as a contiguous run 0…9 (runs
 * of several sets, e.g. the mathematical digits, are contiguous multiples of ten), so the value is the distance from
 * the start of the run, modulo 10.
 */
function asciiDigit(cp: number): string {
  let start = cp;
  while (start > 0 && cp - start < 100 && ND.test(String.fromCodePoint(start - 1))) start--;
  return String((cp - start) % 10);
}

/** One character of an NFKC-decomposed, lower-cased character. */
function foldOne(c: string): string {
  const cp = c.codePointAt(0)!;
  if (cp < 0x7f) return cp >= 0x20 || cp === 9 || cp === 10 || cp === 13 ? c : '';
  if (INVISIBLE.test(c)) return '';
  if (ND.test(c)) return asciiDigit(cp);
  if (DASH.test(c)) return '-';
  if (DOT.test(c)) return '.';
  if (SLASH.test(c)) return '/';
  if (SPACE.test(c)) return ' ';
  return LOOKALIKE[c] ?? OTHER;
}

/**
 * What a non-plain character becomes: its NFKC form (per character: a combining mark is dropped rather than
 * composed, which is what the rules want), lower-cased, each resulting character folded.
 */
function foldChar(ch: string): string {
  let out = '';
  for (const c of ch.normalize('NFKC').toLowerCase()) out += foldOne(c);
  return out;
}

/** CJK ideographs, kana, Hangul syllables: nothing to fold; a run of them becomes one OTHER. */
const bigScript = (c: number) => (c >= 0x4e00 && c <= 0x9fff) || (c >= 0xac00 && c <= 0xd7a3) || (c >= 0x3041 && c <= 0x3096) || (c >= 0x30a1 && c <= 0x30fa);
/** foldChar by UTF-16 code unit (BMP) or by character (astral), bounded. */
const foldedBmp = new Map<number, string>();
const foldedAstral = new Map<string, string>();

function foldRun(run: string): string {
  let out = '';
  let inBig = false;
  for (let i = 0; i < run.length; i++) {
    const c = run.charCodeAt(i);
    if (bigScript(c)) {
      if (!inBig) out += OTHER;
      inBig = true;
      continue;
    }
    inBig = false;
    let f: string | undefined;
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < run.length && (run.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      const pair = run.slice(i, i + 2); // a surrogate pair is one character
      i++;
      f = foldedAstral.get(pair);
      if (f === undefined) {
        f = foldChar(pair);
        if (foldedAstral.size < 2048) foldedAstral.set(pair, f);
      }
    } else {
      f = foldedBmp.get(c);
      if (f === undefined) {
        f = foldChar(String.fromCharCode(c));
        if (foldedBmp.size < 4096) foldedBmp.set(c, f);
      }
    }
    out += f;
  }
  return out;
}

/**
 * The text the rules run on (ASCII only, lower case), or null when it holds no digit at all (no rule can match
 * without one). Plain printable ASCII, the usual prompt, is only lower-cased.
 */
export function normalise(text: string): string | null {
  if (PLAIN.test(text)) return ANY_DIGIT.test(text) ? text.toLowerCase() : null;
  const s = text.replace(NOT_PLAIN, foldRun).toLowerCase();
  return ANY_DIGIT.test(s) ? s : null;
}
