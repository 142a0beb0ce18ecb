// The PHI content screen for what a customer types: prompts, negative prompts, multipart text fields, file names,
// `user`. It looks for DIRECT patient identifiers only (the kinds a customer pastes by accident: an SSN, a Medicare
// number, an MRN, a date of birth) and is tuned for few false positives on ordinary marketing and clinic prompts,
// which are full of prices, phone numbers, addresses, dates, order numbers and SKUs. Pure and synchronous; the
// caller decides what a hit means. Nothing here returns or keeps the matched text: only its class.
//
// Every text is normalised first, so that look-alike digits, separators, case and invisible characters cannot hide
// an identifier: NFKC per character (fullwidth and mathematical forms, circled and superscript digits), invisible characters
// (format controls, combining marks, Hangul fillers, C0/C1 controls) removed, every Unicode decimal digit mapped to
// 0-9, dash-, dot-, slash- and space-like characters mapped to '-', '.', '/', ' ', a few Cyrillic/Greek look-alike
// letters mapped to Latin, case folded, and every other non-ASCII character replaced by one placeholder: the rules
// only see ASCII. Plain printable ASCII (the usual prompt) skips all of that but the case.
//
// Rules (first found wins, in this order):
//   ssn           AAA-GG-SSSS with '-', '.', '/' or ' ' separators, SSA-valid (area not 000/666/900-999, group not
//                 00, serial not 0000); a bare 9-digit run only right after an SSN label. An UNLABELLED bare 9-digit
//                 run is deliberately not matched: zip+4 without the dash, order and tracking numbers, phone numbers
//                 without punctuation are all 9-digit runs, and most of them are SSA-valid.
//   mbi           the CMS MBI shape (11 characters, letters without S L O I B Z), optional '-'/' '/'.' after the 4th
//                 and 7th character, as a whole token.
//   dea / npi     2 letters + 7 digits with the DEA check digit; 10 digits starting with 1 or 2 passing the NPI Luhn
//                 check (prefix 80840); each as a whole token, whichever comes first.
//   labelled      MRN / medical record number, patient id, member/subscriber id, account number / acct #, health
//                 plan / beneficiary / policy / Medicare / Medicaid / insurance number, followed by an id token of
//                 4+ characters with a digit; SSN / NPI / DEA labels followed by their format; DOB / date of birth /
//                 birth date / born / b. followed by a date.
// Unlabelled SSN, DEA and NPI candidates are skipped right after a label saying they are something else (phone,
// order, invoice, tracking, SKU, ISBN, model, part, seed, timestamp …); DEA and NPI ones also inside a code-like
// token (after '_', '/', '=', '#', '+', '-', a letter or a digit) or before a file extension.
//
// A text without a digit (after folding) is clean at once: every rule needs one (a DOB needs its day or year).
// Every regex here is linear: no nested unbounded quantifiers, alternatives that cannot overlap in a way that
// multiplies, bounded repetition around optional parts; boundaries and check digits are tested in code.

export type PhiClass = 'ssn' | 'mbi' | 'npi' | 'dea' | 'mrn' | 'patient_id' | 'member_id' | 'account_number' | 'health_plan_id' | 'dob';

/** Human wording used in messages, e.g. ssn → 'a US Social Security number'. */
export const PHI_CLASS_WORDS: Record<PhiClass, string> = {
  ssn: 'a US Social Security number',
  mbi: 'a Medicare Beneficiary Identifier',
  npi: 'a National Provider Identifier (NPI)',
  dea: 'a DEA registration number',
  mrn: 'a medical record number',
  patient_id: 'a patient ID',
  member_id: 'a health plan member ID',
  account_number: 'an account number',
  health_plan_id: 'a health plan beneficiary number',
  dob: 'a date of birth',
};

// ------------------------------------------------------------------------------------------------ normalisation

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
function normalise(text: string): string | null {
  if (PLAIN.test(text)) return ANY_DIGIT.test(text) ? text.toLowerCase() : null;
  const s = text.replace(NOT_PLAIN, foldRun).toLowerCase();
  return ANY_DIGIT.test(s) ? s : null;
}

// ------------------------------------------------------------------------------------------------ character tests

const isDigit = (c: number) => c >= 48 && c <= 57;
const isLower = (c: number) => c >= 97 && c <= 122;
const isAlnum = (c: number) => isDigit(c) || isLower(c);
const isSepPunct = (c: number) => c === 45 || c === 46 || c === 47; // - . /
const isBlank = (c: number) => c === 32 || c === 9;
/** Characters that, right before a candidate, make it part of a code, URL, hashtag, handle or amount. */
const CODE_BEFORE = new Set([...'_+#$@/=&?~%\\-*^|'].map((c) => c.charCodeAt(0)));

// ------------------------------------------------------------------------------------------------ check digits

/** NPI: Luhn over "80840" + the 10 digits (the card-issuer prefix for US health applications). */
function npiValid(d: string): boolean {
  if (d.length !== 10 || (d[0] !== '1' && d[0] !== '2')) return false;
  const all = '80840' + d;
  let sum = 0;
  for (let i = all.length - 1, dbl = false; i >= 0; i--, dbl = !dbl) {
    let v = all.charCodeAt(i) - 48;
    if (dbl) v = v * 2 > 9 ? v * 2 - 9 : v * 2;
    sum += v;
  }
  return sum % 10 === 0;
}

/** DEA: (d1 + d3 + d5) + 2 × (d2 + d4 + d6) ends in d7. `d` is the 7 digits. */
function deaValid(d: string): boolean {
  const v = (i: number) => d.charCodeAt(i) - 48;
  return (v(0) + v(2) + v(4) + 2 * (v(1) + v(3) + v(5))) % 10 === v(6);
}

/** SSA: area 001-899 but 666, group 01-99, serial 0001-9999. `d` is the 9 digits. */
function ssnValid(d: string): boolean {
  const area = +d.slice(0, 3);
  return area !== 0 && area !== 666 && area < 900 && d.slice(3, 5) !== '00' && d.slice(5) !== '0000';
}

// ------------------------------------------------------------------------------------------------ format rules

/**
 * Right before an unlabelled SSN/DEA/NPI candidate: a label saying it is something else (a phone, an order, a product).
 * Checked on the 40 characters before the candidate; anchored at their end.
 */
const OTHER_LABEL =
  /(?:^|[^a-z])(?:phone|tel|telephone|call|fax|mobile|cell|sms|text|whatsapp|order|invoice|inv|receipt|ref|reference|tracking|confirmation|ticket|booking|reservation|isbn|sku|serial|part|model|item|upc|ean|gtin|po|lot|batch|style|product|catalog|seed|timestamp|epoch)(?:[ _-]?(?:no\.?|number|num|nr|id|code|#))?[ \t:#=-]{0,3}$/;
const SSN_SEP = '(?:[ \\t]?[-./][ \\t]?|[ \\t])';
const SSN_RE = new RegExp(`\\d{3}(${SSN_SEP})\\d{2}(${SSN_SEP})\\d{4}`, 'g');

function findSsn(s: string): boolean {
  SSN_RE.lastIndex = 0;
  for (let m; (m = SSN_RE.exec(s)); ) {
    const i = m.index;
    const e = i + m[0].length;
    SSN_RE.lastIndex = i + 1;
    const p1 = s.charCodeAt(i - 1);
    const p2 = s.charCodeAt(i - 2);
    const n1 = s.charCodeAt(e);
    const n2 = s.charCodeAt(e + 1);
    // Part of a longer digit chain (a phone number, a longer code): not this format.
    if (isDigit(p1) || p1 === 43 /* + */ || (isSepPunct(p1) && isDigit(p2))) continue;
    if (isDigit(n1) || (isSepPunct(n1) && isDigit(n2))) continue;
    // Space-only grouping is looser; it must stand alone (not "030 12 3456 78", a phone number written in pairs).
    if (m[1]!.trim() === '' && m[2]!.trim() === '' && ((isBlank(p1) && isDigit(p2)) || (isBlank(n1) && isDigit(n2)))) continue;
    if (ssnValid(m[0].replace(/\D/g, '')) && !OTHER_LABEL.test(s.slice(Math.max(0, i - 40), i))) return true;
  }
  return false;
}

const MBI_C = '[ac-hjkmnp-rt-y]'; // A-Z without S L O I B Z
const MBI_A = '[0-9ac-hjkmnp-rt-y]';
const MBI_RE = new RegExp(`[1-9]${MBI_C}${MBI_A}\\d[-. ]?${MBI_C}${MBI_A}\\d[-. ]?${MBI_C}{2}\\d\\d`, 'g');

function findMbi(s: string): boolean {
  MBI_RE.lastIndex = 0;
  for (let m; (m = MBI_RE.exec(s)); ) {
    const i = m.index;
    const e = i + m[0].length;
    if (!isAlnum(s.charCodeAt(i - 1)) && !isAlnum(s.charCodeAt(e))) return true;
    MBI_RE.lastIndex = i + 1;
  }
  return false;
}

const FILE_EXT = /^\.(?:png|jpe?g|webp|gif|bmp|tiff?|heic|avif|svg|mp4|mov|webm|mkv|avi|wav|mp3|m4a|ogg|flac|pdf|txt|json|csv|zip)(?![a-z0-9])/;

/** Not inside a code-like token and not labelled as something else (see OTHER_LABEL). */
function standalone(s: string, i: number, e: number): boolean {
  const p1 = s.charCodeAt(i - 1);
  if (isAlnum(p1) || CODE_BEFORE.has(p1)) return false;
  if ((p1 === 46 || p1 === 44) && isDigit(s.charCodeAt(i - 2))) return false; // 3.1415926535, 1,234567890
  const n1 = s.charCodeAt(e);
  if (isAlnum(n1) || n1 === 95 /* _ */) return false;
  if ((isSepPunct(n1) || n1 === 44) && isAlnum(s.charCodeAt(e + 1))) {
    if (n1 !== 46 || isDigit(s.charCodeAt(e + 1)) || FILE_EXT.test(s.slice(e, e + 6))) return false;
  }
  return !OTHER_LABEL.test(s.slice(Math.max(0, i - 40), i));
}

const DEA_FIRST = /[a-hjklmprstux]/;
/** Runs of 7+ digits: the digits of a DEA number (7, or 8 when its second character is the digit 9) and of an NPI (10). */
const RUN7 = /\d{7,}/g;

/** DEA (2 letters + 7 digits, check digit) or NPI (10 digits, Luhn) as a standalone token: one scan for both. */
function findDeaNpi(s: string): PhiClass | null {
  RUN7.lastIndex = 0;
  for (let m; (m = RUN7.exec(s)); ) {
    const i = m.index;
    const n = m[0].length;
    if (n === 10) {
      if (npiValid(m[0]) && standalone(s, i, i + 10)) return 'npi';
    } else if (n === 7 || (n === 8 && m[0][0] === '9')) {
      const at = i - (n === 7 ? 2 : 1); // where the two leading characters start
      if (at >= 0 && DEA_FIRST.test(s[at]!) && (n === 8 || isLower(s.charCodeAt(at + 1))) && deaValid(m[0].slice(n - 7)) && standalone(s, at, i + n)) return 'dea';
    }
  }
  return null;
}

// ------------------------------------------------------------------------------------------------ labelled rules

const W = '[\\s_-]{0,3}';
const NO = 'no\\.?';
const IDN = `(?:identifier|id|number|nbr|num|${NO}|#)`;
const NUMN = `(?:number|nbr|num|${NO}|#)`;

type LabelKind = 'ssn' | 'npi' | 'dea' | 'mrn' | 'patient_id' | 'member_id' | 'account_number' | 'health_plan_id' | 'dob' | 'dob_weak';

/** Each label, in the group order of LABEL_RE. `dob_weak` (born, b.) needs a full date with a year. */
const LABELS: [LabelKind, string][] = [
  ['ssn', `ssn|ss${W}(?:${NO}|number|num|#)|s\\.s\\.n\\.?|social${W}security(?:${W}${NUMN})?|soc${W}sec(?:${W}${NUMN})?`],
  ['npi', `npi(?:${W}${IDN})?|national${W}provider${W}(?:identifier|id|number)`],
  ['dea', `dea(?:${W}(?:registration${W})?${IDN})?`],
  ['mrn', `mrn|medical${W}record${W}${IDN}|med${W}rec${W}${NUMN}`],
  ['patient_id', `patient${W}${IDN}`],
  ['member_id', `(?:member|subscriber)${W}${IDN}`],
  ['account_number', `account${W}${NUMN}|acct(?:${W}${NUMN})?|a/c${W}${NUMN}`],
  ['health_plan_id', `health${W}plan${W}(?:beneficiary${W})?${IDN}|beneficiary${W}${IDN}|policy${W}${IDN}|(?:medicare|medicaid|insurance)${W}${IDN}`],
  ['dob', `dob|d\\.o\\.b\\.?|date${W}of${W}birth|birth${W}date`],
  ['dob_weak', `born|b\\.(?=[ \\t])`],
];
const LABEL_SRC = LABELS.map(([, src]) => `(${src})`).join('|');
/**
 * A label at the start of a word (or after '_': field names like primary_member_id); one ending in a letter is not
 * followed by another ("patients", "mrna"), one ending in '#' or '.' may be ("acct #ab123").
 */
const LABEL_RE = new RegExp(`(?:\\b|_)(?:${LABEL_SRC})(?:(?<=[#.])|(?![a-z]))`, 'g');
/** A JSON key / field name that is or ends in a label: 'mrn', 'patient_id', 'primary_member_id', 'date_of_birth'. */
const LABEL_KEY = new RegExp(`(?:^|[^a-z0-9])(?:${LABEL_SRC})$`);

/** Between a label and its value: punctuation ('_' too: file names like mrn_12345.jpg), "is", "was". Always matches. */
const FILL_ID = /[\s:#=\-_()[\]'"*]{0,8}(?:(?:is|was|of)\s{1,3}[:#'"]?\s{0,2})?/y;
const FILL_DOB =
  /[\s:#=\-_,()[\]'"*]{0,8}(?:(?:is|was|on|the)\s{1,3}){0,3}(?:(?:mon|tue|wed|thu|fri|sat|sun)[a-z]{0,6}\.?,?\s{1,3})?/y;

function after(re: RegExp, s: string, p: number): number {
  re.lastIndex = p;
  return re.exec(s) ? re.lastIndex : p;
}

/** At p: an id token (letters, digits, single - . / between them, single spaces between digits) of 4+ with a digit. */
function idTokenAt(s: string, p: number): boolean {
  let alnum = 0;
  let digits = 0;
  const end = Math.min(s.length, p + 64);
  for (let i = p; i < end; i++) {
    const c = s.charCodeAt(i);
    if (isDigit(c)) {
      alnum++;
      digits++;
    } else if (isLower(c)) alnum++;
    else if (isSepPunct(c) && i > p && isAlnum(s.charCodeAt(i + 1))) continue;
    else if (c === 32 && isDigit(s.charCodeAt(i - 1)) && isDigit(s.charCodeAt(i + 1))) continue;
    else break;
  }
  return alnum >= 4 && digits >= 1;
}

const SSN_BARE = /\d{9}(?!\d)/y;
const NPI_BARE = /\d{10}(?!\d)/y;
const DEA_BARE = /[a-hjklmprstux][a-z9]\d{7}(?![a-z0-9])/y;

function labelledFormat(re: RegExp, s: string, p: number, valid: (m: string) => boolean): boolean {
  re.lastIndex = p;
  const m = re.exec(s);
  return m !== null && valid(m[0]);
}

const MONTH = '(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\\.?';
const DAY = '(\\d{1,2})(?:st|nd|rd|th)?';
const YEAR = "(\\d{4}|'?\\d{2})";
/** d/m/y or m/d/y (2- or 4-digit year), or d/m without a year (group 3 empty). */
const D_NUM = /(\d{1,2})[-./](\d{1,2})(?:[-./](\d{4}|\d{2}))?(?![0-9]|[-./]\d)/y;
const D_ISO = /(\d{4})[-./](\d{1,2})[-./](\d{1,2})(?!\d)/y;
const D_COMPACT = /(\d{8})(?!\d)/y;
const D_MONTH_FIRST = new RegExp(`${MONTH}[\\s,-]{0,3}${DAY}(?:[\\s,.-]{1,3}${YEAR})?(?![0-9a-z])`, 'y');
const D_DAY_FIRST = new RegExp(`${DAY}(?:\\s{0,2}of)?[\\s,.-]{0,3}${MONTH}(?:[\\s,.-]{1,3}${YEAR})?(?![0-9])`, 'y');

const dm = (day: number, month: number) => day >= 1 && day <= 31 && month >= 1 && month <= 12;

function compactDate(d: string): boolean {
  const n = (a: number, b: number) => +d.slice(a, b);
  const y4 = (y: number) => y >= 1850 && y <= 2099;
  return (y4(n(0, 4)) && dm(n(6, 8), n(4, 6))) || (y4(n(4, 8)) && (dm(n(2, 4), n(0, 2)) || dm(n(0, 2), n(2, 4))));
}

/** A date right at p. `needYear`: the weak labels (born, b.) need one; a bare "DOB 3/4" is still a date of birth. */
function dateAt(s: string, p: number, needYear: boolean): boolean {
  let m: RegExpExecArray | null;
  D_ISO.lastIndex = p;
  if ((m = D_ISO.exec(s))) return dm(+m[3]!, +m[2]!);
  D_COMPACT.lastIndex = p;
  if ((m = D_COMPACT.exec(s))) return compactDate(m[1]!);
  D_NUM.lastIndex = p;
  if ((m = D_NUM.exec(s))) {
    if (needYear && !m[3]) return false;
    const a = +m[1]!;
    const b = +m[2]!;
    return dm(a, b) || dm(b, a);
  }
  D_MONTH_FIRST.lastIndex = p;
  if ((m = D_MONTH_FIRST.exec(s))) return (!needYear || !!m[2]) && dm(+m[1]!, 1);
  D_DAY_FIRST.lastIndex = p;
  if ((m = D_DAY_FIRST.exec(s))) return (!needYear || !!m[2]) && dm(+m[1]!, 1);
  return false;
}

function findLabelled(s: string): PhiClass | null {
  LABEL_RE.lastIndex = 0;
  for (let m; (m = LABEL_RE.exec(s)); ) {
    const e = m.index + m[0].length;
    LABEL_RE.lastIndex = e;
    let g = 1;
    while (m[g] === undefined) g++;
    const kind = LABELS[g - 1]![0];
    if (kind === 'dob' || kind === 'dob_weak') {
      if (dateAt(s, after(FILL_DOB, s, e), kind === 'dob_weak')) return 'dob';
      continue;
    }
    // "acct_1Nv0FGQ9…" is a code (a Stripe account id), not an account number after a label.
    if (kind === 'account_number' && s.charCodeAt(e) === 95 /* _ */ && s.slice(e - 4, e) === 'acct') continue;
    const p = after(FILL_ID, s, e);
    if (kind === 'ssn') {
      if (labelledFormat(SSN_BARE, s, p, ssnValid)) return 'ssn';
    } else if (kind === 'npi') {
      if (labelledFormat(NPI_BARE, s, p, npiValid)) return 'npi';
    } else if (kind === 'dea') {
      if (labelledFormat(DEA_BARE, s, p, (t) => deaValid(t.slice(2)))) return 'dea';
    } else if (idTokenAt(s, p)) return kind;
  }
  return null;
}

// ------------------------------------------------------------------------------------------------ public API

/** The first identifier class found in `text`, or null. Never returns the matched text. */
export function screenText(text: string): PhiClass | null {
  if (typeof text !== 'string') return null;
  const s = normalise(text);
  if (s === null) return null;
  if (findSsn(s)) return 'ssn';
  if (findMbi(s)) return 'mbi';
  return findDeaNpi(s) ?? findLabelled(s);
}

const MAX_DEPTH = 8;
const MAX_STRINGS = 2000;
const MAX_NODES = 20_000;

/** A data: URI (its bytes are typed and stripped as media elsewhere), strictly: "data: patient …" is text. */
const DATA_URI = /^data:(?:[a-z0-9!#$&^_.+-]+\/[a-z0-9!#$&^_.+-]+)?(?:;[a-z0-9!#$&^_.+-]+(?:=[^;,\s]*)?)*,/i;
/** Raw base64 / base64url of some size, no whitespace: an encoded payload, not text a person wrote. */
const BASE64 = /^[A-Za-z0-9+/_-]+={0,2}$/;

const isPayload = (s: string) => (s.length > 5 && (s.charCodeAt(0) | 0x20) === 100 && DATA_URI.test(s)) || (s.length >= 256 && BASE64.test(s));

/** Keys shown in a path as they are; anything else (spaces, odd characters, very long) as '<key>'. */
const PLAIN_KEY = /^[A-Za-z0-9_.[\]-]{1,64}$/;
const join = (path: string, key: string) => (path ? `${path}.${key}` : key);

interface Budget {
  strings: number;
  nodes: number;
}

/**
 * When `key` (a field name) is or ends in a label ('mrn', 'patient_id', 'patientMrn', 'dateOfBirth'), the label as
 * text (camelCase split: 'patient_mrn'), so that its value is read as `label: value`; else null.
 */
function keyLabel(key: string | undefined): string | null {
  if (key === undefined || key.length > 40) return null;
  const words = key.replace(/([a-z0-9])([A-Z])/g, '$1_$2');
  return LABEL_KEY.test(words.toLowerCase()) ? words : null;
}

function screenValue(s: string, key: string | undefined, budget: Budget): PhiClass | null {
  if (--budget.strings < 0 || isPayload(s)) return null;
  const hit = screenText(s);
  if (hit || s.length > 200) return hit;
  const label = keyLabel(key);
  return label ? screenText(`${label}: ${s}`) : null;
}

function walk(v: unknown, path: string, depth: number, budget: Budget, key?: string): { field: string; class: PhiClass } | null {
  if (--budget.nodes < 0) return null;
  if (typeof v === 'string') {
    const cls = screenValue(v, key, budget);
    return cls ? { field: path, class: cls } : null;
  }
  if (typeof v === 'number' || typeof v === 'bigint') {
    // Numbers are read only under a label key ({"mrn": 1234567}): a bare number is a seed, a size, a count.
    const label = keyLabel(key);
    const cls = label ? screenText(`${label}: ${String(v)}`) : null;
    return cls ? { field: path, class: cls } : null;
  }
  if (v === null || typeof v !== 'object' || depth >= MAX_DEPTH) return null;
  if (ArrayBuffer.isView(v) || v instanceof ArrayBuffer || (typeof Blob !== 'undefined' && v instanceof Blob)) return null;
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length && budget.nodes > 0 && budget.strings > 0; i++) {
      const hit = walk(v[i], `${path}[${i}]`, depth + 1, budget);
      if (hit) return hit;
    }
    return null;
  }
  const entries: Iterable<[unknown, unknown]> =
    v instanceof Map || (typeof FormData !== 'undefined' && v instanceof FormData) || v instanceof URLSearchParams
      ? (v as Map<unknown, unknown>).entries()
      : Object.entries(v);
  for (const [k, val] of entries) {
    if (budget.nodes <= 0 || budget.strings <= 0) return null;
    const name = String(k);
    // A key is customer text too; a hit in it is reported without echoing the key.
    const keyHit = screenValue(name, undefined, budget);
    if (keyHit) return { field: join(path, '<key>'), class: keyHit };
    const hit = walk(val, join(path, PLAIN_KEY.test(name) ? name : '<key>'), depth + 1, budget, name);
    if (hit) return hit;
  }
  return null;
}

/**
 * Walks a parsed JSON value / field map (plain objects, arrays, Map, FormData, URLSearchParams; Blobs and byte
 * arrays are skipped) and returns the first hit with its field path ('prompt', 'input_reference.image_url',
 * 'messages[0]'), or null. Keys are screened too (a hit there reports '<key>' in place of the key); a key that is
 * or ends in a label ('mrn', 'patient_id', 'patientMrn', 'dateOfBirth') is read with its value, numbers included. data: URIs and raw base64
 * payloads (256+ characters, no whitespace) are skipped. Bounded: depth 8, 2000 strings, 20000 nodes; anything
 * beyond is not screened.
 */
export function screenFields(value: unknown, path = ''): { field: string; class: PhiClass } | null {
  return walk(value, path, 0, { strings: MAX_STRINGS, nodes: MAX_NODES });
}
