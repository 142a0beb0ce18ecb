import * as z from 'zod/mini';
import { badRequest } from './errors';

/** Parses with a zod schema; the first issue becomes a 400 naming the offending field in `param`. */
export function parse<T extends z.ZodMiniType>(schema: T, data: unknown): z.infer<T> {
  const r = schema.safeParse(data);
  if (r.success) return r.data;
  const issue = r.error.issues[0]!;
  const param = issue.path.length ? issue.path.map(String).join('.') : null;
  const what = issue.code === 'invalid_type' && issue.input === undefined ? 'is required' : `is invalid: ${issue.message}`;
  throw badRequest(param, param ? `'${param}' ${what}` : `Invalid request body: ${issue.message}`);
}

/** Reads a JSON object body; malformed JSON or a non-object is a 400, never a 500. */
export async function readJson(req: Request): Promise<Record<string, unknown>> {
  return parseJson(await req.text());
}

export function parseJson(text: string): Record<string, unknown> {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw badRequest(null, 'The request body is not valid JSON');
  }
  if (!body || typeof body !== 'object' || Array.isArray(body)) throw badRequest(null, 'The request body must be a JSON object');
  return body as Record<string, unknown>;
}
