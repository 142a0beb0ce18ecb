// The labelled PHI rules (see src/phi/screen.ts): an MRN / member id / account number… label followed by an id, an
// SSN / NPI / DEA label followed by its format, a date-of-birth label followed by a date.
import type { PhiClass } from './classes';
import { deaValid, isAlnum, isDigit, isLower, isSepPunct, npiValid, ssnValid } from './formats';

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
export const LABEL_KEY = new RegExp(`(?:^|[^a-z0-9])(?:${LABEL_SRC})$`);

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

export function findLabelled(s: string): PhiClass | null {
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
