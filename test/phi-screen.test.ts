// The PHI text screen (src/phi/screen.ts): every identifier class matched and its near misses not; a planted valid
// identifier of every class is caught, with its class, in any spelling (separators, case, look-alike digits and
// letters, NFKC forms, invisible characters) anywhere in clean text; a corpus of realistic clean prompts is never
// flagged; arbitrary and adversarial strings never throw; screenFields reports the planted path and skips payloads.
import fc from 'fast-check';
import { describe, expect, inject, it } from 'vitest';
import { PHI_CLASS_WORDS, screenFields, screenText, type PhiClass } from '../src/phi/screen';
import { CLEAN_PROMPTS } from './fixtures/clean-prompts';

const { seed: SEED, runs: RUNS } = inject('fuzz');
const opts = (numRuns = RUNS) => ({ seed: SEED, numRuns, endOnFailure: true });

const CLASSES = Object.keys(PHI_CLASS_WORDS) as PhiClass[];

// ------------------------------------------------------------------------------------------------ reference checks
// Written independently of the module: the generators below use them to build valid identifiers.

/** The NPI check digit of 9 digits: Luhn over "80840" + the 9 digits. */
function npiCheckDigit(nine: string): number {
  const payload = '80840' + nine;
  let sum = 0;
  for (let i = payload.length - 1, dbl = true; i >= 0; i--, dbl = !dbl) {
    let d = Number(payload[i]);
    if (dbl) d = d * 2 > 9 ? d * 2 - 9 : d * 2;
    sum += d;
  }
  return (10 - (sum % 10)) % 10;
}
const deaCheckDigit = (six: string) => {
  const d = [...six].map(Number) as [number, number, number, number, number, number];
  return (d[0] + d[2] + d[4] + 2 * (d[1] + d[3] + d[5])) % 10;
};

// ------------------------------------------------------------------------------------------------ unit cases

/** A text with its invisible and non-ASCII characters spelled out, for failure messages. */
const show = (s: string) => `"${s.replace(/[^\x20-\x7e]/gu, (c) => `\\u{${c.codePointAt(0)!.toString(16)}}`)}"`;
const hits = (cls: PhiClass | null, texts: string[]) => {
  for (const t of texts) expect(screenText(t), show(t)).toBe(cls);
};

describe('screenText: US SSN', () => {
  it('matches separated SSA-valid numbers and labelled bare ones', () => {
    hits('ssn', [
      '123-45-6789', 'ssn 123 45 6789', 'SSN: 123.45.6789', 'his number is 001-01-0001 ok', '899-99-9999', '665-12-3456',
      '123 - 45 - 6789', '123/45/6789', 'SSN 123456789', 'SSN#123456789', 'ss# 123456789', 'Social Security number: 123456789',
      'social security no. 078051120', 'soc sec 123456789', 'S.S.N. 123456789', 'ssn is 123456789.', '(123-45-6789)',
    ]);
  });
  it('refuses SSA-invalid areas, groups and serials, bare runs and longer digit chains', () => {
    hits(null, [
      '000-12-3456', '666-12-3456', '900-12-3456', '999-12-3456', '123-00-4567', '123-45-0000', 'SSN 000123456', 'SSN 666123456',
      '123456789', 'order 123456789', '941031234', '1123-45-6789', '123-45-67890', '+123 45 6789', '030 12 3456 78', '1.123.45.6789',
      'SSN 1234567890', '12-345-6789', '123-456-789', 'SKU 123-45-6789', 'part no. 123-45-6789', 'order #123-45-6789',
    ]);
  });
});

describe('screenText: Medicare Beneficiary Identifier', () => {
  it('matches the CMS format, with or without dashes, any case', () => {
    hits('mbi', ['1EG4-TE5-MK73', '1eg4te5mk73', 'MBI 1EG4TE5MK73', '9AA0AA0AA00', '1A00A00AA00', '(1EG4 TE5 MK73)', '5C94-E87-GH12']);
  });
  it('refuses excluded letters, a leading 0, wrong positions and longer tokens', () => {
    const bad = ['S', 'L', 'O', 'I', 'B', 'Z'];
    hits(null, bad.map((c) => `1${c}G4TE5MK73`)); // position 2
    hits(null, bad.map((c) => `1EG4${c}E5MK73`)); // position 5
    hits(null, bad.map((c) => `1EG4TE5${c}K73`)); // position 8
    hits(null, bad.map((c) => `1EG4TE5M${c}73`)); // position 9
    hits(null, ['0EG4TE5MK73', '1EG4TE5MK7A', '11G4TE5MK73', '1EG4TE5MK73X', 'A1EG4TE5MK73', '1EG4TE5MK731', '1EGATE5MK73']);
  });
});

describe('screenText: NPI', () => {
  it('matches 10 digits starting with 1 or 2 that pass the Luhn check, and labelled ones', () => {
    expect(npiCheckDigit('123456789')).toBe(3); // the CMS example 1234567893
    hits('npi', ['1234567893', 'Dr. Lee 1234567893', 'NPI: 1234567893', 'npi1234567893', 'NPI number 1234567893', `2${'00000000'}${npiCheckDigit('200000000')}`]);
  });
  it('refuses a failed check, other leading digits, longer runs and numbers that are something else', () => {
    hits(null, [
      '1234567890', '1234567891', '3234567893', '01234567893', '12345678930', 'NPI 1234567890',
      'call 1234567893', 'phone: 1234567893', 'order #1234567893', 'invoice no. 1234567893', 'ISBN 1234567893', 'seed 1234567893',
      'IMG_1234567893.jpg', '1234567893.png', 'https://cdn.example/u/1234567893/a.png', '?id=1234567893', 'v1234567893', '#1234567893',
      '3.1234567893', '$1234567893', '1234567893-2', 'x_1234567893',
    ]);
  });
});

describe('screenText: DEA number', () => {
  it('matches 2 letters + 7 digits with the check digit, and labelled ones', () => {
    expect(deaCheckDigit('123456')).toBe(3);
    hits('dea', ['AB1234563', 'ab1234563', 'Dr. X, AB1234563.', 'M91234563', 'DEA AB1234563', 'DEA# AB1234563', 'dea registration number: FJ1111119']);
  });
  it('refuses a failed check, invalid first letters and tokens that are codes', () => {
    hits(null, [
      'AB1234567', 'IB1234563', 'NB1234563', 'OB1234563', 'QB1234563', 'VB1234563', 'WB1234563', 'YB1234563', 'ZB1234563', 'A11234563',
      'XAB1234563', 'AB12345631', 'sku AB1234563', 'model AB1234563', 'part no. AB1234563', '/AB1234563', 'AB1234563.jpg', 'AB1234563-XL',
    ]);
  });
});

describe('screenText: labelled identifiers', () => {
  it('maps each label to its class', () => {
    hits('mrn', ['MRN: 4471882', 'mrn 00123', 'MRN#A12345', 'Medical record number 7781-22', 'medical record no. 55123', 'Medical Record # X9981', 'patient_mrn: 12345', 'MRN_#: 12345', 'mrn_12345.jpg', 'scan-MRN-4471882.png']);
    hits('patient_id', ['Patient ID: 88812', 'patient id is P-4471', 'Patient Number 9981', 'patient no. 12345', 'Patient #4521', 'PatientID=A1B2C3', 'patient identifier 7781']);
    hits('member_id', ['Member ID: W123456789', 'member number 55123', 'Member # XJ77812', 'Subscriber ID 0012', 'subscriber no. AB12', 'primary_member_id: 12345']);
    hits('account_number', ['Account number 12345678', 'account_no_12345.pdf', 'account no. 44-1234', 'Account # 9981', 'Acct # 99812', 'acct: 4471', 'a/c no. 55123']);
    hits('health_plan_id', [
      'Health plan beneficiary number: 77-1234', 'health plan id XYZ12345', 'Beneficiary ID 123A', 'policy number ZX99812', 'Medicaid ID 12345678', 'Medicare number 8812A', 'insurance id: H123',
    ]);
  });
  it('needs a label and an id token of 4+ characters with a digit', () => {
    hits(null, [
      'Room 12', 'order #4521', 'invoice 2024-19', 'Patient ID wristband', 'patient id: pending', 'MRN 12', 'member id ABCD', 'account number needed',
      'Patient #1 choice', 'patients 1234', 'member since 2019', 'mRNA-1273 vaccine', 'account numbers 1-3', 'Patient No Show fee 2025', 'acct_12345', 'user acct_1Nv0FGQ9RKHgCVdK',
    ]);
  });
});

describe('screenText: dates of birth', () => {
  it('matches a label followed by a date in the usual formats', () => {
    hits('dob', [
      'DOB: 1/2/1980', 'dob 01/02/80', 'D.O.B. 1980-02-01', 'date of birth 01.02.1980', 'Date of Birth: March 3, 1970', 'birthdate 3 March 1970',
      'Birth date: Mar 3rd 1970', 'born on March 3, 1970', 'Born 3rd of March, 1970', 'b. 03-Mar-1970', 'born on the 3rd of March 1970', 'DOB 19800201',
      'DOB 3/4', 'DOB: March 3', 'DOB: Tuesday, March 3, 1970', 'dateOfBirth: 1980-02-01', "born Mar. 3 '70",
    ]);
  });
  it('needs a birth label (and, for born / b., a full date with a year)', () => {
    hits(null, [
      'Founded on March 3, 1970', 'opening on 2025-03-01', 'born in 1970', 'born 1970', 'born on March 3', 'b. 1970', 'DOB field MM/DD/YYYY',
      'DOB 13/13/1980', 'DOB 2025-13-01', 'Born to Run 5K on 6/14/2025', 'reborn 3/4/2025', 'adobe 1/2/1980', 'web.site 1/2/1980',
    ]);
  });
});

describe('screenText: normalisation', () => {
  it('sees through look-alike digits, dashes, spaces, case, NFKC forms and invisible characters', () => {
    hits('ssn', [
      '１２３－４５－６７８９', '١٢٣-٤٥-٦٧٨٩', '۱۲۳-۴۵-۶۷۸۹', '१२३-४५-६७८९', '𝟏𝟐𝟑-𝟒𝟓-𝟔𝟕𝟖𝟗', '123–45–6789', '123—45—6789', '123−45−6789', '123\u00a045\u00a06789',
      '1\u200b2\u200c3-4\u200d5-6\u20607\ufeff8\u00ad9', '¹²³-⁴⁵-⁶⁷⁸⁹', '①②③-④⑤-⑥⑦⑧⑨', 'S\u200bS\u200bN 123456789', 'ＳＳＮ １２３４５６７８９',
    ]);
    hits('mbi', ['１ＥＧ４－ＴＥ５－ＭＫ７３', '1ЕG4ТЕ5МК73' /* Cyrillic Е Т М К */, '𝟏𝐄𝐆𝟒𝐓𝐄𝟓𝐌𝐊𝟕𝟑']);
    hits('mrn', ['Ｍ\u200bＲＮ： Ａ１２３４５', 'M\u00adR\u00adN 12345', 'МRN 12345' /* Cyrillic М */]);
    hits('dob', ['ＤＯＢ： １／２／１９８０', 'DOB 1\u20442\u20441980', 'date\u3000of\u3000birth 1980\u201102\u201101']);
  });
});

describe('PHI_CLASS_WORDS', () => {
  it('words every class', () => {
    for (const c of CLASSES) expect(PHI_CLASS_WORDS[c]).toMatch(/^an? /);
    expect(PHI_CLASS_WORDS.ssn).toBe('a US Social Security number');
  });
});

// ------------------------------------------------------------------------------------------------ the clean corpus

describe('clean prompts', () => {
  it('are never flagged', () => {
    expect(CLEAN_PROMPTS.length).toBeGreaterThanOrEqual(300);
    const flagged = CLEAN_PROMPTS.map((p, i) => ({ i, cls: screenText(p) })).filter((r) => r.cls !== null);
    console.log(`PHI text screen: false positives ${flagged.length}/${CLEAN_PROMPTS.length} = ${((100 * flagged.length) / CLEAN_PROMPTS.length).toFixed(2)}% on the clean corpus`);
    expect(flagged, flagged.map((f) => `#${f.i} → ${f.cls}`).join(', ')).toEqual([]);
  });
});

// ------------------------------------------------------------------------------------------------ planted identifiers

const pick = <T>(xs: readonly T[]) => fc.constantFrom(...xs);
const digits = (n: number) => fc.array(fc.integer({ min: 0, max: 9 }), { minLength: n, maxLength: n }).map((d) => d.join(''));
const MBI_LETTERS = [...'ACDEFGHJKMNPQRTUVWXY'];
const mbiLetter = pick(MBI_LETTERS);
const mbiAlnum = fc.oneof(mbiLetter, pick([...'0123456789']));
const digit = pick([...'0123456789']);

interface Plant {
  text: string;
  cls: PhiClass;
}

const ssnPlant: fc.Arbitrary<Plant> = fc
  .record({
    area: fc.integer({ min: 1, max: 899 }).filter((a) => a !== 666),
    group: fc.integer({ min: 1, max: 99 }),
    serial: fc.integer({ min: 1, max: 9999 }),
    sep: pick(['-', ' ', '.', ' - ', '/', '-', '.']),
    label: pick(['', '', 'SSN ', 'SSN: ', 'SS# ', 'social security number ', 'Social Security No. ', 'soc sec #', 'SSN is ']),
    bare: fc.boolean(),
  })
  .map(({ area, group, serial, sep, label, bare }) => {
    const [a, g, s] = [String(area).padStart(3, '0'), String(group).padStart(2, '0'), String(serial).padStart(4, '0')];
    return { text: label && bare ? `${label}${a}${g}${s}` : `${label}${a}${sep}${g}${sep}${s}`, cls: 'ssn' as const };
  });

const mbiPlant: fc.Arbitrary<Plant> = fc
  .record({
    c: fc.tuple(pick([...'123456789']), mbiLetter, mbiAlnum, digit, mbiLetter, mbiAlnum, digit, mbiLetter, mbiLetter, digit, digit),
    sep: pick(['', '', '-', ' ']),
    label: pick(['', 'MBI ', 'Medicare ID: ']),
  })
  .map(({ c, sep, label }) => ({ text: `${label}${c.slice(0, 4).join('')}${sep}${c.slice(4, 7).join('')}${sep}${c.slice(7).join('')}`, cls: 'mbi' as const }));

const npiPlant: fc.Arbitrary<Plant> = fc
  .record({ first: pick(['1', '2']), rest: digits(8), label: pick(['', '', 'NPI ', 'NPI: ', 'npi#', 'NPI number ', 'provider ']) })
  .map(({ first, rest, label }) => ({ text: `${label}${first}${rest}${npiCheckDigit(first + rest)}`, cls: 'npi' as const }));

const deaPlant: fc.Arbitrary<Plant> = fc
  .record({
    first: pick([...'ABCDEFGHJKLMPRSTUX']),
    second: fc.oneof(pick([...'ABCDEFGHIJKLMNOPQRSTUVWXYZ']), fc.constant('9')),
    six: digits(6),
    label: pick(['', '', 'DEA ', 'DEA#', 'DEA number: ', 'Dr. Smith ']),
  })
  .map(({ first, second, six, label }) => ({ text: `${label}${first}${second}${six}${deaCheckDigit(six)}`, cls: 'dea' as const }));

const LABELS: Record<'mrn' | 'patient_id' | 'member_id' | 'account_number' | 'health_plan_id', string[]> = {
  mrn: ['MRN', 'MRN:', 'MRN #', 'Medical record number', 'medical record no.', 'Medical Record #', 'med rec no'],
  patient_id: ['Patient ID', 'patient id:', 'Patient Number', 'patient no.', 'Patient #', 'patient identifier'],
  member_id: ['Member ID', 'member number', 'Member #', 'Subscriber ID', 'subscriber no.'],
  account_number: ['Account number', 'account no.', 'Account #', 'Acct #', 'acct no', 'acct:'],
  health_plan_id: ['Health plan beneficiary number', 'health plan ID', 'Beneficiary ID', 'beneficiary number', 'Policy number', 'Medicaid ID', 'Medicare number', 'insurance ID'],
};
/** An id token: 4+ characters, at least one digit, that is not itself another class (an SSN, an NPI, …). */
const idToken = fc
  .record({
    pre: fc.string({ unit: pick([...'ABCDEFGHJKXYZ']), maxLength: 3 }),
    num: fc.integer({ min: 2, max: 10 }).chain(digits),
    dash: pick(['', '', '-', '/']),
    post: fc.string({ unit: pick([...'0123456789ABX']), maxLength: 3 }),
  })
  .map(({ pre, num, dash, post }) => `${pre}${num}${post ? dash + post : ''}`)
  .filter((id) => id.replace(/[^A-Z0-9]/g, '').length >= 4 && screenText(id) === null);
const labelledPlant: fc.Arbitrary<Plant> = fc
  .record({
    cls: pick(Object.keys(LABELS) as (keyof typeof LABELS)[]),
    n: fc.nat(),
    space: pick([' ', ' ', '_', '-', '', '  ']),
    fill: pick(['', ' ', ': ', ' is ', ' = ', ' - ', ' #', ' # ', ':\t']),
    id: idToken,
  })
  .map(({ cls, n, space, fill, id }) => {
    const labels = LABELS[cls];
    const label = labels[n % labels.length]!.replace(/ /g, space);
    return { text: `${label}${fill || (/[a-z.]$/i.test(label) && /^[a-z]/i.test(id) ? ' ' : '')}${id}`, cls };
  });

const MONTHS = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September', 'October', 'November', 'December'];
const ordinal = (d: number) => `${d}${d % 10 === 1 && d !== 11 ? 'st' : d % 10 === 2 && d !== 12 ? 'nd' : d % 10 === 3 && d !== 13 ? 'rd' : 'th'}`;
const dobPlant: fc.Arbitrary<Plant> = fc
  .record({
    strong: fc.boolean(),
    sl: pick(['DOB', 'DOB:', 'D.O.B.', 'Date of birth', 'date of birth:', 'Birthdate', 'Birth date', 'dob is']),
    wl: pick(['born on', 'Born', 'born:', 'b.', 'Born on the']),
    d: fc.integer({ min: 1, max: 28 }),
    m: fc.integer({ min: 1, max: 12 }),
    y: fc.integer({ min: 1900, max: 2025 }),
    form: fc.integer({ min: 0, max: 12 }),
  })
  .map(({ strong, sl, wl, d, m, y, form }) => {
    const p2 = (n: number) => String(n).padStart(2, '0');
    const mon = MONTHS[m - 1]!;
    const dates = [
      `${m}/${d}/${y}`, `${d}/${m}/${y}`, `${p2(m)}-${p2(d)}-${y}`, `${p2(d)}.${p2(m)}.${y}`, `${y}-${p2(m)}-${p2(d)}`, `${m}/${d}/${p2(y % 100)}`,
      `${mon} ${d}, ${y}`, `${mon.slice(0, 3)} ${ordinal(d)} ${y}`, `${d} ${mon} ${y}`, `${ordinal(d)} of ${mon}, ${y}`, `${p2(d)}-${mon.slice(0, 3)}-${y}`,
      `${y}${p2(m)}${p2(d)}`, strong ? `${m}/${d}` : `${mon} ${d} ${y}`,
    ];
    return { text: `${strong ? sl : wl} ${dates[form]!}`, cls: 'dob' as const };
  });

const plant = fc.oneof(ssnPlant, mbiPlant, npiPlant, deaPlant, labelledPlant, dobPlant);

// Spellings: every character may be swapped for an equivalent the normaliser must see through.
const FULLWIDTH = (c: string) => String.fromCodePoint(c.codePointAt(0)! + 0xfee0);
const DIGIT_SETS = [0x30, 0xff10, 0x660, 0x6f0, 0x966, 0x9e6, 0xe50, 0x1d7ce, 0x1d7d8, 0x1e950, 0x104a0];
const SUPERSCRIPT = ['⁰', '¹', '²', '³', '⁴', '⁵', '⁶', '⁷', '⁸', '⁹'];
const CIRCLED = ['⓪', '①', '②', '③', '④', '⑤', '⑥', '⑦', '⑧', '⑨'];
const CYRILLIC: Record<string, string> = { a: 'а', c: 'с', e: 'е', o: 'о', p: 'р', x: 'х', y: 'у', A: 'А', B: 'В', C: 'С', E: 'Е', H: 'Н', K: 'К', M: 'М', O: 'О', P: 'Р', T: 'Т', X: 'Х' };
const DASHES = ['-', '\u2010', '\u2011', '\u2012', '\u2013', '\u2014', '\u2015', '\u2212', '\ufe63', '\uff0d'];
const SPACES = [' ', '\u00a0', '\u2009', '\u202f', '\u3000', '\u2007', '\u2002'];
const DOTS = ['.', '\uff0e', '\u2024'];
const SLASHES = ['/', '\uff0f', '\u2044', '\u2215'];
const INVISIBLES = ['\u200b', '\u200c', '\u200d', '\u200e', '\u200f', '\u2060', '\u2061', '\u2062', '\u2063', '\u2064', '\ufeff', '\u00ad', '\u180e', '\u034f'];

function respell(text: string, choices: readonly [number, number][], exotic: boolean): string {
  let out = '';
  [...text].forEach((ch, i) => {
    const [a, b] = choices[i] ?? [0, 99];
    const k = exotic ? a : a % 3; // plain spellings stay ASCII: case, separators, nothing else
    let c = ch;
    if (/[0-9]/.test(ch)) {
      const d = Number(ch);
      if (!exotic) c = ch;
      else if (k % 13 === 11) c = SUPERSCRIPT[d]!;
      else if (k % 13 === 12) c = CIRCLED[d]!;
      else c = String.fromCodePoint(DIGIT_SETS[k % 13]! + d);
    } else if (/[a-z]/i.test(ch)) {
      const cased = a % 2 ? ch.toUpperCase() : ch.toLowerCase();
      c = !exotic || k % 5 < 2 ? cased : k % 5 === 2 ? FULLWIDTH(cased) : k % 5 === 3 ? (CYRILLIC[cased] ?? cased) : String.fromCodePoint((/[A-Z]/.test(cased) ? 0x1d400 - 65 : 0x1d41a - 97) + cased.codePointAt(0)!);
    } else if (exotic && ch === '-') c = DASHES[k % DASHES.length]!;
    else if (ch === ' ') c = exotic ? SPACES[k % SPACES.length]! : ch;
    else if (exotic && ch === '.') c = DOTS[k % DOTS.length]!;
    else if (exotic && ch === '/') c = SLASHES[k % SLASHES.length]!;
    else if (exotic && (ch === ':' || ch === '#') && k % 2) c = FULLWIDTH(ch);
    out += c;
    if (exotic && b < 25 && i < text.length - 1) out += INVISIBLES[b % INVISIBLES.length]!;
  });
  return out;
}

const spelled = (p: fc.Arbitrary<Plant>) =>
  p.chain((pl) =>
    fc
      .record({ exotic: fc.boolean(), choices: fc.array(fc.tuple(fc.nat(9999), fc.nat(99)), { minLength: pl.text.length, maxLength: pl.text.length }) })
      .map(({ exotic, choices }) => ({ ...pl, text: respell(pl.text, choices, exotic) })),
  );

/** Clean text around the identifier: corpus prompts as sentences, the identifier between two of them. */
const inContext = (p: fc.Arbitrary<Plant>) =>
  fc
    .record({
      plant: spelled(p),
      before: fc.array(pick(CLEAN_PROMPTS), { maxLength: 3 }),
      after: fc.array(pick(CLEAN_PROMPTS), { maxLength: 3 }),
      joiner: pick(['. ', '.\n', '\n\n', ' | ', '; ']),
      wrap: pick([['', ''], ['(', ')'], ['Note: ', '.'], ['', ','], ['"', '"']] as const),
    })
    .map(({ plant, before, after, joiner, wrap }) => ({
      cls: plant.cls,
      text: [...before, `${wrap[0]}${plant.text}${wrap[1]}`, ...after].join(joiner),
    }));

describe('planted identifiers', () => {
  const each: [string, fc.Arbitrary<Plant>][] = [
    ['ssn', ssnPlant], ['mbi', mbiPlant], ['npi', npiPlant], ['dea', deaPlant], ['labelled', labelledPlant], ['dob', dobPlant],
  ];
  for (const [name, arb] of each) {
    it(`a valid ${name} in any spelling, anywhere in clean text, is caught with its class`, () => {
      fc.assert(
        fc.property(inContext(arb), ({ text, cls }) => {
          expect(screenText(text), show(text)).toBe(cls);
        }),
        opts(),
      );
    });
  }
});

// ------------------------------------------------------------------------------------------------ arbitrary input

const ADVERSARIAL = [
  '1'.repeat(10_000), '12-'.repeat(3333), '123-45-'.repeat(1400), 'mrn '.repeat(2500), 'patient id '.repeat(900), 'dob 1/'.repeat(1600),
  'born on the '.repeat(800), '1eg4-'.repeat(2000), 'a1'.repeat(5000), ' '.repeat(9999) + '1', 'march 3 '.repeat(1200), '\u200b1'.repeat(5000),
  '١'.repeat(10_000), 'acct#'.repeat(2000), 'dob: the '.repeat(1000) + '1', '1 '.repeat(5000), '1-'.repeat(5000), '1.'.repeat(5000),
  'ab1234567'.repeat(1100), 'npi '.repeat(2500) + '1', 'd.o.b. '.repeat(1400) + '1', 'medical record '.repeat(660) + '1', '#'.repeat(9999) + '1',
  'b. '.repeat(3300) + '1', 'call 1234567893 '.repeat(600), '𝟏'.repeat(5000), 'x_'.repeat(5000) + '1',
];
const TOKENS = ['1', '12', '123', '-', ' ', '.', '/', '#', ':', 'a', 'b.', 'mrn', 'dob', 'born', 'on', 'the', 'ssn', 'npi', 'patient', 'id', 'march', '3rd', 'of', '\u200b', '１', '–', '_', 'is'];

describe('arbitrary strings', () => {
  it('adversarial long strings finish and answer a class or null', () => {
    for (const s of ADVERSARIAL) {
      const r = screenText(s);
      expect(r === null || CLASSES.includes(r)).toBe(true);
    }
  });
  it('token soups up to 10k characters finish', () => {
    fc.assert(
      fc.property(fc.array(pick(TOKENS), { maxLength: 3000 }), (parts) => {
        const r = screenText(parts.join('').slice(0, 10_000));
        expect(r === null || CLASSES.includes(r)).toBe(true);
      }),
      opts(Math.min(RUNS, 100)),
    );
  });
  it('never throws on any string up to 10k characters', () => {
    const any = fc.oneof(
      fc.string({ maxLength: 10_000 }),
      fc.string({ unit: 'binary', maxLength: 10_000 }),
      fc.string({ unit: 'grapheme', maxLength: 2_000 }),
      fc.string({ unit: 'binary-ascii', maxLength: 10_000 }),
    );
    fc.assert(
      fc.property(any, (s) => {
        const r = screenText(s);
        expect(r === null || CLASSES.includes(r)).toBe(true);
      }),
      opts(Math.min(RUNS, 100)),
    );
  });
});

// ------------------------------------------------------------------------------------------------ screenFields

describe('screenFields', () => {
  it('reports the field path of a hit, never the matched text', () => {
    expect(screenFields({ prompt: 'a calm lobby', negative_prompt: 'blurry, SSN 123-45-6789' })).toEqual({ field: 'negative_prompt', class: 'ssn' });
    expect(screenFields({ input_reference: { image_url: 'https://x.example/a.png?mrn=A12345' } })).toEqual({ field: 'input_reference.image_url', class: 'mrn' });
    expect(screenFields({ messages: ['DOB 1/2/1980'] })).toEqual({ field: 'messages[0]', class: 'dob' });
    expect(screenFields({ messages: [{ content: 'hi' }, { content: [{ text: '1EG4-TE5-MK73' }] }] })).toEqual({ field: 'messages[1].content[0].text', class: 'mbi' });
    expect(screenFields('MRN 12345', 'prompt')).toEqual({ field: 'prompt', class: 'mrn' });
    expect(screenFields({ prompt: 'ok' }, 'body')).toBeNull();
    expect(screenFields({ a: 'MRN 12345' }, 'body')).toEqual({ field: 'body.a', class: 'mrn' });
  });
  it('screens keys without echoing them, and reads a label key with its value', () => {
    const r = screenFields({ metadata: { '123-45-6789': 'x' } });
    expect(r).toEqual({ field: 'metadata.<key>', class: 'ssn' });
    expect(screenFields({ metadata: { mrn: 'A12345' } })).toEqual({ field: 'metadata.mrn', class: 'mrn' });
    expect(screenFields({ patient_id: 88812 })).toEqual({ field: 'patient_id', class: 'patient_id' });
    expect(screenFields({ dateOfBirth: '1980-02-01' })).toEqual({ field: 'dateOfBirth', class: 'dob' });
    expect(screenFields({ ssn: '123456789' })).toEqual({ field: 'ssn', class: 'ssn' });
    expect(screenFields({ patient: { primaryMemberId: 'W1234', patientMrn: 4471 } })).toEqual({ field: 'patient.primaryMemberId', class: 'member_id' });
    expect(screenFields({ patientMrn: 4471 })).toEqual({ field: 'patientMrn', class: 'mrn' });
    expect(screenFields({ birth_date: '3/4/1970', model: 'v1234', user: 'u-2024-0001', size: '1024x1024' })).toEqual({ field: 'birth_date', class: 'dob' });
    expect(screenFields({ model: 'gpt-image-1', user: 'u-2024-0001', order_id: 12345, seed: 1234567893 })).toBeNull();
    expect(screenFields({ 'weird key with spaces': 'MRN 12345' })).toEqual({ field: '<key>', class: 'mrn' });
  });
  it('leaves numbers alone unless their key is a label', () => {
    expect(screenFields({ seed: 1234567893, n: 1, size: '1024x1024', seconds: 8 })).toBeNull();
    expect(screenFields({ prompt: 'a', seed: 123456789 })).toBeNull();
  });
  it('skips data: URIs and raw base64 payloads, not text that merely starts with "data:"', () => {
    expect(screenFields({ image_url: 'data:text/plain,SSN 123-45-6789' })).toBeNull();
    expect(screenFields({ image_url: 'data:image/png;base64,' + 'A'.repeat(100) + 'MRN 12345' })).toBeNull();
    expect(screenFields({ image_url: 'DATA:,MRN 12345' })).toBeNull();
    expect(screenFields({ image: 'iVBORw0KGgo' + '+mrn1234'.repeat(40) })).toBeNull();
    expect(screenFields({ prompt: 'data: patient MRN 12345' })).toEqual({ field: 'prompt', class: 'mrn' });
    expect(screenFields({ prompt: 'data:MRN 12345' })).toEqual({ field: 'prompt', class: 'mrn' });
  });
  it('walks Map, FormData and URLSearchParams and skips Blobs and bytes', () => {
    const form = new FormData();
    form.append('image', new File([new Uint8Array([1, 2, 3])], 'a.png', { type: 'image/png' }));
    form.append('prompt', 'patient #4521 at the desk');
    expect(screenFields(form)).toEqual({ field: 'prompt', class: 'patient_id' });
    expect(screenFields(new Map([['user', 'acct # 9981']]))).toEqual({ field: 'user', class: 'account_number' });
    expect(screenFields(new URLSearchParams('q=DOB%201%2F2%2F1980'))).toEqual({ field: 'q', class: 'dob' });
    expect(screenFields({ bytes: new TextEncoder().encode('123-45-6789'), blob: new Blob(['123-45-6789']) })).toBeNull();
  });
  it('is bounded: depth 8 and 2000 strings', () => {
    const nest = (n: number): unknown => (n === 0 ? 'MRN 12345' : { a: nest(n - 1) });
    expect(screenFields(nest(8))?.field).toBe('a.a.a.a.a.a.a.a');
    expect(screenFields(nest(9))).toBeNull();
    const many = Array.from({ length: 2500 }, () => 'a calm lobby');
    expect(screenFields([...many.slice(0, 100), 'MRN 12345'])?.field).toBe('[100]');
    expect(screenFields([...many, 'MRN 12345'])).toBeNull();
    const wide: Record<string, unknown> = {};
    for (let i = 0; i < 50; i++) wide[`k${i}`] = wide; // a cycle, wide: the node budget ends it
    expect(screenFields(wide)).toBeNull();
  });

  const KEYS = ['prompt', 'input_reference', 'image_url', 'messages', 'content', 'text', 'metadata', 'negative_prompt', 'user', 'parts'];
  const segment = fc.oneof(pick(KEYS).map((k) => ({ key: k })), fc.nat(3).map((i) => ({ index: i })));
  const sibling = fc.oneof(
    pick(CLEAN_PROMPTS),
    fc.constantFrom('data:text/plain,SSN 123-45-6789', 'data:image/png;base64,QUFB', 'iVBORw0KGgo'.repeat(30), 1234567893, 8, null, true),
  );
  it('finds a planted identifier at any nesting path and reports that path', () => {
    fc.assert(
      fc.property(fc.array(segment, { maxLength: 6 }), inContext(plant), fc.array(fc.tuple(pick(KEYS), sibling), { maxLength: 4 }), (path, planted, siblings) => {
        let value: unknown = planted.text;
        for (const seg of [...path].reverse()) {
          if ('key' in seg) value = { ...Object.fromEntries(siblings), [seg.key]: value };
          else value = [...siblings.map(([, s]) => s).slice(0, seg.index), ...Array(Math.max(0, seg.index - siblings.length)).fill('ok'), value];
        }
        const field = path.map((s) => ('key' in s ? `.${s.key}` : `[${s.index}]`)).join('').replace(/^\./, '');
        expect(screenFields(value)).toEqual({ field, class: planted.cls });
      }),
      opts(),
    );
  });
});
