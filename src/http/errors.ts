/** The contract's error codes and the status each one always carries. */
export const ERROR_STATUS = {
  bad_request: 400,
  checksum_mismatch: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  method_not_allowed: 405,
  conflict: 409,
  gone: 410,
  length_required: 411,
  precondition_failed: 412,
  payload_too_large: 413,
  unsupported_media_type: 415,
  range_not_satisfiable: 416,
  locked: 423,
  too_many_requests: 429,
  internal: 500,
  upstream_failed: 502,
} as const;

export type ErrorCode = keyof typeof ERROR_STATUS;

/** Thrown anywhere in the worker; rendered once, by `renderError`, as the contract's JSON. */
export class HttpError extends Error {
  readonly status: number;
  readonly code: ErrorCode;
  readonly headers: Record<string, string>;

  constructor(code: ErrorCode, message: string, headers: Record<string, string> = {}) {
    super(message);
    this.code = code;
    this.status = ERROR_STATUS[code];
    this.headers = headers;
  }
}

export const badRequest = (message: string) => new HttpError("bad_request", message);
export const notFound = (message: string) => new HttpError("not_found", message);

/** `{"error": {"code", "message"}}` with the code's status. */
export function errorResponse(code: ErrorCode, message: string, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify({ error: { code, message } }), {
    status: ERROR_STATUS[code],
    headers: { "content-type": "application/json; charset=utf-8", ...headers },
  });
}

/**
 * The router's one `catch` stage. Known errors keep their code and message; anything else
 * is logged (without the request's secrets) and answered as a bare `internal` error.
 */
export function renderError(err: unknown): Response {
  if (err instanceof HttpError) return errorResponse(err.code, err.message, err.headers);
  console.error("unhandled error:", err instanceof Error ? `${err.name}: ${err.message}` : String(err));
  return errorResponse("internal", "The peer failed to handle this request.");
}
