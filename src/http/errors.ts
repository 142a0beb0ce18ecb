// One error shape for the whole gateway: the OpenAI envelope {error:{message,type,param,code}}.

/** Every error code the gateway answers with (documented in /openapi.json). */
export const ERROR_CODES = [
  'invalid_request',
  'invalid_api_key',
  'insufficient_quota',
  'budget_exceeded',
  'phi_blocked',
  'model_not_found',
  'not_found',
  'method_not_allowed',
  'unsupported_endpoint',
  'video_not_ready',
  'invalid_signature',
  'link_expired',
  'payload_too_large',
  'range_not_satisfiable',
  'rate_limit_exceeded',
  'idempotency_conflict',
  'account_not_empty',
  'upstream_error',
  'upstream_timeout',
  'provider_unavailable',
  'store_unavailable',
  'config_invalid',
  'internal_error',
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

const TYPES: Record<number, string> = {
  400: 'invalid_request_error',
  401: 'authentication_error',
  402: 'insufficient_quota',
  403: 'permission_error',
  404: 'not_found_error',
  405: 'invalid_request_error',
  409: 'conflict_error',
  413: 'invalid_request_error',
  416: 'invalid_request_error',
  429: 'rate_limit_error',
};

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: ErrorCode,
    message: string,
    readonly param: string | null = null,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }

  get type(): string {
    return TYPES[this.status] ?? 'server_error';
  }

  toResponse(extra?: HeadersInit): Response {
    const headers = new Headers(extra);
    headers.set('content-type', 'application/json');
    for (const [k, v] of Object.entries(this.headers)) headers.set(k, v);
    const error = { message: this.message, type: this.type, param: this.param, code: this.code };
    return new Response(JSON.stringify({ error }), { status: this.status, headers });
  }
}

/** A PHI refusal: the audit trail records which field and which kind of identifier (never the value). */
export class PhiBlocked extends ApiError {
  constructor(
    readonly field: string,
    readonly phiClass: string,
    message: string,
  ) {
    super(403, 'phi_blocked', message, field);
  }
}

export const PHI_NOT_ACCEPTED = 'PHI is not accepted: no generation provider is PHI-eligible. Send general (non-PHI) content only.';

export const badRequest = (param: string | null, message: string) =>
  new ApiError(400, 'invalid_request', message, param);

export const notFound = (message = 'Not found') => new ApiError(404, 'not_found', message);

export const upstreamError = (message: string) => new ApiError(502, 'upstream_error', message);

export const upstreamTimeout = (message = 'The provider did not answer in time') =>
  new ApiError(504, 'upstream_timeout', message);

export const providerUnavailable = (message: string) =>
  new ApiError(503, 'provider_unavailable', message);

export const storeUnavailable = (message = 'The billing ledger is unreachable; nothing was run or charged') =>
  new ApiError(503, 'store_unavailable', message);

/** Turns anything thrown into an ApiError: unknown exceptions become a 500 `internal_error`, never a stack trace. */
export function toApiError(err: unknown): ApiError {
  if (err instanceof ApiError) return err;
  return new ApiError(500, 'internal_error', 'Internal error');
}
