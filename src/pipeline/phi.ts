// The PHI gate beyond the header: what a customer sends on a generation route is screened for direct patient
// identifiers before anything else happens (no upstream call, no store write, no hold, no charge). A hit is a 403
// `phi_blocked` naming the field and the identifier class — never the matched text — and leaves one audit event
// (class and field only), written by the app's error handler. PHI_SCAN (`block` | `off`) is the default; an operator
// may override it per account (`PUT /admin/accounts/{account}/phi-scan`), carried on the key record.
import type { Config } from '../config';
import { PHI_NOT_ACCEPTED, PhiBlocked } from '../http/errors';
import type { KeyRecord, PhiScanMode } from '../ledger/types';
import { PHI_CLASS_WORDS, screenFields, screenText, type PhiClass } from '../phi/screen';

const contentBlocked = (field: string, cls: PhiClass, what = `'${field}'`) =>
  new PhiBlocked(field, cls, `${what} contains what looks like ${PHI_CLASS_WORDS[cls]}. ${PHI_NOT_ACCEPTED} If this is not patient data, rephrase it (the value is not stored).`);

/** The screening mode for this key: the account's override, else the gateway's PHI_SCAN. */
export const phiMode = (cfg: Config, key: KeyRecord): PhiScanMode => key.phiScan ?? cfg.PHI_SCAN;

/**
 * Screens a request's text: every string in `value` (a parsed JSON body or a multipart field map; data: URIs are
 * skipped, their bytes are typed and stripped as files) and the names of uploaded files. Throws PhiBlocked.
 */
export function screenRequest(cfg: Config, key: KeyRecord, value: unknown, files: readonly { field: string; name: string }[] = []): void {
  if (phiMode(cfg, key) === 'off') return;
  const hit = screenFields(value);
  if (hit) throw contentBlocked(hit.field, hit.class);
  for (const f of files) {
    const cls = f.name ? screenText(f.name) : null;
    if (cls) throw contentBlocked(f.field, cls, `The file name of '${f.field}'`);
  }
}
