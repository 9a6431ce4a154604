/**
 * Errors of the HTTP server and the two body shapes clients expect for them:
 * - text-embeddings-inference (TEI) routes: `{"error": "...", "error_type": "Validation"}`, with TEI's error types
 *   (Validation, Empty, Tokenizer, Overloaded, Backend, Unhealthy);
 * - OpenAI routes (`/v1/...`): `{"error": {"message", "type", "param", "code"}}`.
 * A message never carries a stack trace: unexpected errors reach the client as "internal error" (the server log
 * has the details).
 */

/** TEI's error categories. */
export type TeiErrorType = 'Validation' | 'Empty' | 'Tokenizer' | 'Overloaded' | 'Backend' | 'Unhealthy';

/** An error with its HTTP status and both wire shapes' fields. */
export class ServeError extends Error {
  /**
   * @param status HTTP status (400 malformed or empty, 413 too large, 422 wrong field, 429 queue full, 503 draining
   *   or timed out, 500 internal).
   * @param type TEI error type.
   * @param param The request field at fault (`inputs`, `input[3]`), for OpenAI's `param`.
   * @param code OpenAI-style machine code (`context_length_exceeded`, `queue_full`...).
   * @param retryAfterS Seconds for a `Retry-After` header (429/503).
   */
  constructor(readonly status: number, readonly type: TeiErrorType, message: string, readonly param: string | null = null,
    readonly code: string | null = null, readonly retryAfterS?: number) {
    super(message);
    this.name = 'ServeError';
  }
}

/** TEI body of an error. */
export function teiErrorBody(e: ServeError): { error: string; error_type: TeiErrorType } {
  return { error: e.message, error_type: e.type };
}

/** OpenAI's `error.type` for a status. */
function openAiType(status: number): string {
  if (status === 429) return 'rate_limit_error';
  if (status >= 500) return 'server_error';
  return 'invalid_request_error';
}

/** OpenAI body of an error. */
export function openAiErrorBody(e: ServeError):
  { error: { message: string; type: string; param: string | null; code: string | null } } {
  return { error: { message: e.message, type: openAiType(e.status), param: e.param, code: e.code } };
}

/** Whether a URL is served with OpenAI's shapes. */
export function isOpenAiRoute(url: string): boolean {
  return url.startsWith('/v1/');
}

/** One validation error of the JSON schema validator (ajv), as fastify reports it. */
export interface SchemaIssue {
  instancePath: string;
  keyword: string;
  message?: string;
  params?: Record<string, unknown>;
}

/** `/inputs/1` -> `inputs[1]` (the field as a client writes it); '' for the body itself. */
export function fieldName(instancePath: string): string {
  return instancePath.split('/').filter(Boolean)
    .map((p, i) => (/^\d+$/.test(p) ? `[${p}]` : i === 0 ? p : `.${p}`)).join('');
}

/** A schema failure as a 422 naming the field ("inputs[1] must be string", "unknown field 'foo'"). */
export function schemaError(issues: SchemaIssue[]): ServeError {
  const v = issues[0];
  const at = fieldName(v.instancePath);
  let field = at, msg: string;
  if (v.keyword === 'required') {
    field = [at, String(v.params?.missingProperty)].filter(Boolean).join('.');
    msg = `missing required field '${field}'`;
  } else if (v.keyword === 'additionalProperties') {
    field = [at, String(v.params?.additionalProperty)].filter(Boolean).join('.');
    msg = `unknown field '${field}'`;
  } else if (v.keyword === 'type' && v.params?.type !== undefined) {
    msg = `${at || 'body'} must be ${String(v.params.type).split(',').join(' or ')}`;
  } else {
    msg = `${at || 'body'} ${v.message ?? 'is invalid'}`;
    if (v.keyword === 'enum' && Array.isArray(v.params?.allowedValues)) msg += `: ${(v.params!.allowedValues as unknown[]).map((x) => JSON.stringify(x)).join(', ')}`;
  }
  return new ServeError(422, 'Validation', msg, field || null, 'invalid_type');
}
