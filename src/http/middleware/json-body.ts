import express, { type RequestHandler } from 'express';
import { ParameterError } from '../../errors/app-error';

/** Deepest nesting of objects and arrays a request may carry; the API's own bodies need 3. */
export const MAX_INPUT_DEPTH = 32;

/**
 * Checks parsed request input once, without recursion, before any schema or code walks it:
 * nesting deeper than MAX_INPUT_DEPTH (recursive checks would overflow the stack on a few
 * thousand levels), NUL characters in keys or strings (MongoDB-compatible servers refuse them,
 * which would read as a database failure), and `__proto__` keys (assigning one changes an
 * object's prototype instead of adding a field). Returns the first problem as "path: why", else null.
 */
export function findUnsafeInput(value: unknown, root: string): string | null {
  const stack: Array<{ v: unknown; path: string; depth: number }> = [{ v: value, path: root, depth: 0 }];
  while (stack.length) {
    const { v, path, depth } = stack.pop()!;
    if (typeof v === 'string') {
      if (v.includes('\u0000')) return `${path}: must not contain a NUL character (\\u0000)`;
      continue;
    }
    if (v === null || typeof v !== 'object') continue;
    if (depth >= MAX_INPUT_DEPTH) return `${root}: nested deeper than ${MAX_INPUT_DEPTH} levels`;
    if (Array.isArray(v)) {
      for (let i = 0; i < v.length; i++) stack.push({ v: v[i], path: `${path}.${i}`, depth: depth + 1 });
      continue;
    }
    for (const k of Object.keys(v)) {
      if (k === '__proto__') return `${path}: a field may not be named "__proto__"`;
      if (k.includes('\u0000')) return `${path}: a field name must not contain a NUL character (\\u0000)`;
      stack.push({ v: (v as Record<string, unknown>)[k], path: `${path}.${k}`, depth: depth + 1 });
    }
  }
  return null;
}

/**
 * JSON bodies up to `limit`: express.json (which also inflates gzip, deflate and br bodies, within
 * the same limit after decoding), then findUnsafeInput. Parse and decoding failures reach the error
 * handler, which answers 5003.
 */
export function jsonBody(limit = '1mb'): RequestHandler[] {
  return [
    express.json({ limit }),
    (req, _res, next) => {
      const problem = req.body === undefined ? null : findUnsafeInput(req.body, 'body');
      next(problem ? new ParameterError(problem) : undefined);
    },
  ];
}
