// The building blocks of the OpenAPI document: JSON Schema from a route's zod schema, query and path parameters,
// responses and their shared headers, security requirements.
import * as z from 'zod/mini';

export type Json = Record<string, unknown>;

export const schemaOf = (s: z.ZodMiniType): Json => {
  const out = z.toJSONSchema(s, { io: 'input', unrepresentable: 'any' }) as Json;
  delete out.$schema;
  return out;
};

/** Query parameters from an object schema. */
export function queryParams(s: z.ZodMiniType): Json[] {
  const js = schemaOf(s) as { properties?: Record<string, Json>; required?: string[] };
  return Object.entries(js.properties ?? {}).map(([name, schema]) => ({ name, in: 'query', required: js.required?.includes(name) ?? false, schema }));
}

export const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
export const header = (description: string, schema: Json = { type: 'string' }) => ({ description, schema });
export const REQUEST_ID = { 'x-request-id': { $ref: '#/components/headers/x-request-id' } };
export const TIER = { 'x-phi-tier': { $ref: '#/components/headers/x-phi-tier' } };
export const COST = { 'x-phi-cost-micro': { $ref: '#/components/headers/x-phi-cost-micro' } };
export const ATTEMPTS = { 'x-phi-attempts': { $ref: '#/components/headers/x-phi-attempts' } };

export function errors(...statuses: number[]): Json {
  const out: Json = {};
  for (const s of [...statuses, 500]) out[String(s)] = { $ref: `#/components/responses/E${s}` };
  return out;
}

export const ok = (description: string, schema: Json | null, headers: Json = {}, type = 'application/json'): Json => ({
  description,
  headers: { ...REQUEST_ID, ...headers },
  ...(schema && { content: { [type]: { schema } } }),
});

export const jsonBody = (s: z.ZodMiniType, required = true) => ({ required, content: { 'application/json': { schema: schemaOf(s) } } });
export const pathParam = (name: string, description: string) => ({ name, in: 'path', required: true, schema: { type: 'string' }, description });
export const CUSTOMER = [{ apiKey: [] }];
export const ADMIN = [{ adminToken: [] }];
export const PHI = { name: 'X-PHI', in: 'header', required: false, description: 'Anything but an explicit false (false/0/no, or absent) is refused with 403 phi_blocked', schema: { type: 'string' } };
export const IDEM = { name: 'Idempotency-Key', in: 'header', required: false, description: '1-255 visible ASCII; a retry with the same body replays the first answer without a second charge', schema: { type: 'string', maxLength: 255 } };
