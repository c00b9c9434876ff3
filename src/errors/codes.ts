/** The one table of error codes: code, message name (the `message` field) and HTTP status. */
export const ErrorCodes = {
  InternalError: { code: 5000, name: 'internalException', httpStatus: 500 },
  ScannerError: { code: 5001, name: 'clairException', httpStatus: 502 },
  RegistryError: { code: 5002, name: 'registryException', httpStatus: 502 },
  ParameterError: { code: 5003, name: 'paramException', httpStatus: 400 },
  NotFoundError: { code: 5004, name: 'notFoundException', httpStatus: 404 },
  DatabaseError: { code: 5005, name: 'dbException', httpStatus: 503 },
  ConflictError: { code: 5006, name: 'conflictException', httpStatus: 409 },
  // 401 for a missing or unknown token; ForbiddenError (app-error.ts) answers the same code with 403
  // when the token is valid but lacks the right (a write with a read-only token).
  AuthError: { code: 5007, name: 'authException', httpStatus: 401 },
  RateLimitError: { code: 5008, name: 'rateLimitException', httpStatus: 429 },
} as const;

export type ErrorKind = keyof typeof ErrorCodes;
export type ErrorCode = (typeof ErrorCodes)[ErrorKind]['code'];

const byCode = new Map<number, (typeof ErrorCodes)[ErrorKind]>(Object.values(ErrorCodes).map((e) => [e.code, e]));

/** HTTP status for an error code; unknown codes are internal errors (500). */
export function httpStatusOf(code: number): number {
  return byCode.get(code)?.httpStatus ?? 500;
}

/** Message name (`clairException`, ...) for an error code. */
export function messageOf(code: number): string {
  return byCode.get(code)?.name ?? ErrorCodes.InternalError.name;
}
