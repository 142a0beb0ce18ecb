// Usage records: what an account was given and what it cost. The ledger keeps each as (claim, amount, memo, at ms);
// the memo is this compact JSON, written in the same ledger call as the charge (images: the admit; video: the settle,
// with who enqueued it, from the job's record). Presented with unix-second times and never an upstream id: a
// video's claim carries fal's request id, so only the public video id is shown.
import type { UsageRecord } from '../ledger/types';

export interface UsageMemo {
  t: 'image' | 'image_edit' | 'video';
  /** request id and key id of the request that asked for it */
  r: string | null;
  k: string | null;
  m: string;
  /** units delivered (images, or seconds billed) */
  n: number;
  unit: 'image' | 'second';
  /** the public video id */
  v?: string;
  /** how images were delivered: signed URLs issued, or inline base64 (the audit trail's media.issued) */
  f?: 'url' | 'b64_json';
}

export const usageMemo = (m: UsageMemo) => JSON.stringify(m);

/**
 * A note on an image's usage record, written (as a $0 record of its own, claim + NOTE_SUFFIX) only when the request
 * needed more than one upstream attempt or ran on a fallback endpoint; folded into that record's line by usageLines.
 */
export interface NoteMemo {
  t: 'note';
  r: string | null;
  /** upstream attempts made */
  a: number;
  /** the fallback endpoint that served, when not the primary */
  e?: string;
}

export const NOTE_SUFFIX = ':note';
export const noteMemo = (m: NoteMemo) => JSON.stringify(m);

export interface UsageLine {
  at: number;
  type: UsageMemo['t'] | 'refund' | 'adjustment';
  request_id: string | null;
  key_id: string | null;
  model: string | null;
  units: number | null;
  unit: string | null;
  cost_micro: number;
  video_id: string | null;
  reason: string | null;
  /** present when the request needed more than one upstream attempt (absent: one) */
  attempts?: number;
  /** present when a fallback endpoint served it: that endpoint */
  route?: string;
}

/** One stored record as the usage API shows it. Older free-text memos are shown by their kind only. */
export function usageLine(u: UsageRecord): UsageLine {
  const base = { at: Math.floor(u.at / 1000), request_id: null, key_id: null, model: null, units: null, unit: null, cost_micro: u.amount_micro, video_id: null, reason: null };
  if (u.memo.startsWith('{')) {
    try {
      const m = JSON.parse(u.memo) as UsageMemo;
      return { ...base, type: m.t, request_id: m.r, key_id: m.k, model: m.m, units: m.n, unit: m.unit, video_id: m.v ?? null };
    } catch {
      /* fall through */
    }
  }
  if (u.memo.startsWith('adjustment: ')) return { ...base, type: 'adjustment', reason: u.memo.slice('adjustment: '.length) };
  if (u.memo === 'refund') return { ...base, type: 'refund' };
  return { ...base, type: u.claim.startsWith('video:') ? 'video' : 'image' };
}

/**
 * The lines of a list of records: notes are not lines of their own, their attempts and endpoint go onto the line of
 * the record they annotate (a note whose record is not in the list is dropped); a refund names the request, key and
 * model of the charge it lowers (when that charge is in the list), so that each request's lines add up to its cost.
 */
export function usageLines(records: UsageRecord[]): UsageLine[] {
  const notes = new Map<string, NoteMemo>();
  const charges = new Map<string, UsageLine>();
  for (const u of records) {
    if (u.claim.endsWith(NOTE_SUFFIX)) {
      try {
        const m = JSON.parse(u.memo) as NoteMemo;
        if (m.t === 'note') notes.set(u.claim.slice(0, -NOTE_SUFFIX.length), m);
      } catch {
        /* not a note */
      }
    } else if (u.memo.startsWith('{')) charges.set(u.claim, usageLine(u));
  }
  const out: UsageLine[] = [];
  for (const u of records) {
    if (u.claim.endsWith(NOTE_SUFFIX)) continue;
    const line = usageLine(u);
    const charge = charges.get(u.claim);
    if (line.type === 'refund') {
      out.push(charge ? { ...line, request_id: charge.request_id, key_id: charge.key_id, model: charge.model, video_id: charge.video_id } : line);
      continue;
    }
    const n = notes.get(u.claim);
    out.push(n ? { ...line, attempts: n.a, ...(n.e && { route: n.e }) } : line);
  }
  return out;
}

const CSV_COLUMNS: (keyof UsageLine)[] = ['at', 'type', 'request_id', 'key_id', 'model', 'units', 'unit', 'cost_micro', 'video_id', 'reason'];

/** RFC 4180 CSV with a header row; a cell starting with = + - @ is prefixed with ' (no formula injection). */
export function usageCsv(lines: UsageLine[]): string {
  const cell = (v: unknown) => {
    if (v === null || v === undefined) return '';
    let s = String(v);
    if (typeof v === 'string' && /^[=+\-@\t\r]/.test(s)) s = `'${s}`;
    return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
  };
  return [CSV_COLUMNS.join(','), ...lines.map((l) => CSV_COLUMNS.map((c) => cell(l[c])).join(','))].join('\r\n') + '\r\n';
}
