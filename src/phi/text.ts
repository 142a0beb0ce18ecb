// The PHI screen of one text: normalised, then each rule in order (see src/phi/screen.ts).
import type { PhiClass } from './classes';
import { findDeaNpi, findMbi, findSsn } from './formats';
import { findLabelled } from './labels';
import { normalise } from './normalise';

/** The first identifier class found in `text`, or null. Never returns the matched text. */
export function screenText(text: string): PhiClass | null {
  if (typeof text !== 'string') return null;
  const s = normalise(text);
  if (s === null) return null;
  if (findSsn(s)) return 'ssn';
  if (findMbi(s)) return 'mbi';
  return findDeaNpi(s) ?? findLabelled(s);
}
