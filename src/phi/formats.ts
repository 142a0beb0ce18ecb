// The PHI rules that need no label (see src/phi/screen.ts): SSN, MBI, DEA and NPI by their shape and check digits,
// with the character tests and check digits the labelled rules use too.
import type { PhiClass } from './classes';

export const isDigit = (c: number) => c >= 48 && c <= 57;
export const isLower = (c: number) => c >= 97 && c <= 122;
export const isAlnum = (c: number) => isDigit(c) || isLower(c);
export const isSepPunct = (c: number) => c === 45 || c === 46 || c === 47; // - . /
const isBlank = (c: number) => c === 32 || c === 9;
/** Characters that, right before a candidate, make it part of a code, URL, hashtag, handle or amount. */
const CODE_BEFORE = new Set([...'_+#$@/=&?~%\\-*^|'].map((c) => c.charCodeAt(0)));

// ------------------------------------------------------------------------------------------------ check digits

/** NPI: Luhn over "80840" + the 10 digits (the card-issuer prefix for US health applications). */
export function npiValid(d: string): boolean {
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
export function deaValid(d: string): boolean {
  const v = (i: number) => d.charCodeAt(i) - 48;
  return (v(0) + v(2) + v(4) + 2 * (v(1) + v(3) + v(5))) % 10 === v(6);
}

/** SSA: area 001-899 but 666, group 01-99, serial 0001-9999. `d` is the 9 digits. */
export function ssnValid(d: string): boolean {
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

export function findSsn(s: string): boolean {
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

export function findMbi(s: string): boolean {
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
export function findDeaNpi(s: string): PhiClass | null {
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
