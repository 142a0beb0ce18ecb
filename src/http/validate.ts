import * as z from 'zod/mini';
import { badRequest } from './errors';

/**
 * Parses with a zod schema; the first issue becomes a 400 naming the field in `param` and in a message that says
 * what the field must be (the schemas below carry those phrases: "must be an integer from 1 to 4").
 */
export function parse<T extends z.ZodMiniType>(schema: T, data: unknown): z.infer<T> {
  const r = schema.safeParse(data);
  if (r.success) return r.data;
  const issue = r.error.issues[0]!;
  const param = issue.path.length ? issue.path.map(String).join('.') : null;
  // zod does not report the input: a field is missing when the data has nothing at the issue's path.
  const what = issue.code === 'invalid_type' && valueAt(data, issue.path) === undefined ? 'is required' : issue.message;
  throw badRequest(param, param ? `'${param}' ${what}` : `The request body ${what}`);
}

function valueAt(data: unknown, path: PropertyKey[]): unknown {
  let v = data;
  for (const k of path) v = v !== null && typeof v === 'object' ? (v as Record<PropertyKey, unknown>)[k] : undefined;
  return v;
}

// Field vocabulary: every failure says what the field must be.

/** A non-empty (trimmed) string of at most `max` characters. */
export const text = (max: number) =>
  z.string({ error: 'must be a string' }).check(z.trim(), z.minLength(1, 'must not be empty'), z.maxLength(max, `must be at most ${max} characters`));

/** A string of at most `max` characters (may be empty). */
export const str = (max = 256) => z.string({ error: 'must be a string' }).check(z.maxLength(max, `must be at most ${max} characters`));

/** An integer in [min, max]. */
export function intIn(min: number, max: number) {
  const m = `must be an integer from ${min} to ${max}`;
  return z.int({ error: m }).check(z.gte(min, m), z.lte(max, m));
}

/** One of a fixed set of strings. */
export const oneOf = <const T extends readonly [string, ...string[]]>(values: T) => z.enum(values, { error: `must be one of ${values.join(', ')}` });

export const bool = () => z.boolean({ error: 'must be true or false' });

/** A number that may arrive as a string (multipart forms send every field as text). */
export function numeric(what = 'a number') {
  const error = `must be ${what}`;
  // Every branch carries the message: zod reports the closest branch's own issue, not the union's.
  return z.pipe(
    z.union([z.number({ error }), z.string({ error }).check(z.regex(/^\s*-?\d+(\.\d+)?\s*$/, error))], { error }),
    z.transform(Number),
  );
}

/** An integer in [min, max] that may arrive as a string. */
export const intLike = (min: number, max: number) => z.pipe(numeric(`an integer from ${min} to ${max}`), intIn(min, max));

/** Optional, and null means absent (the OpenAI SDKs send null for unset fields). */
export const nullish = <T extends z.ZodMiniType>(t: T) => z.optional(z.nullable(t));

const utf8 = new TextDecoder();

/**
 * A request body as UTF-8 text, whatever its Content-Type says — what `text()` does, without workerd's warning
 * for a body not typed as text (curl -d sends x-www-form-urlencoded; a client may send anything).
 */
export async function bodyText(body: { arrayBuffer(): Promise<ArrayBuffer> }): Promise<string> {
  return utf8.decode(await body.arrayBuffer());
}

/** Reads a JSON object body; malformed JSON or a non-object is a 400, never a 500. */
export async function readJson(req: Request): Promise<Record<string, unknown>> {
  return parseJson(await bodyText(req));
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
