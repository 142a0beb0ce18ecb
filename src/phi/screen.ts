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
// Every regex in these files is linear: no nested unbounded quantifiers, alternatives that cannot overlap in a way that
// multiplies, bounded repetition around optional parts; boundaries and check digits are tested in code.
//
// Files: normalise.ts (the folding), formats.ts (unlabelled rules, check digits), labels.ts (labelled rules), text.ts
// (screenText: the rules in order), fields.ts (screenFields: walking a request's fields), classes.ts (the classes).

export { PHI_CLASS_WORDS, type PhiClass } from './classes';
export { screenFields } from './fields';
export { screenText } from './text';
