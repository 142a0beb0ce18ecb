// What the /admin handlers share: the account-name rule, the account path parameter, the reserved test account.
import * as z from 'zod/mini';
import { TEST_KEY } from '../http/auth';
import { badRequest } from '../http/errors';
import { parse } from '../http/validate';

/** Account names: 1-64 of a-z 0-9 _ . - starting with a letter or digit (one spelling per account). */
export const ACCOUNT = /^[a-z0-9][a-z0-9_.-]{0,63}$/;
const ACCOUNT_RULE = "must be 1-64 characters of a-z, 0-9, '_', '.', '-', starting with a letter or digit";
export const accountName = z.string({ error: ACCOUNT_RULE }).check(z.regex(ACCOUNT, ACCOUNT_RULE));

/** The account named in the path: valid, and never the shared test key's (reserved) account. */
export function accountParam(raw: string | undefined): string {
  const { account } = parse(z.object({ account: accountName }), { account: raw });
  return account;
}

export const reserved = () => badRequest('account', `Account '${TEST_KEY.account}' is reserved for the shared test key`);
