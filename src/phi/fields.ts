// The PHI screen of a request's fields: a parsed JSON value or field map walked, bounded, each string (and each key,
// and a number under a label key) screened as text.
import type { PhiClass } from './classes';
import { LABEL_KEY } from './labels';
import { screenText } from './text';

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
