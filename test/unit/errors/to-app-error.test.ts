import mongoose from 'mongoose';
import { z } from 'zod';
import { AppError, ConflictError, RegistryError, ScannerError } from '../../../src/errors/app-error';
import { ErrorCodes, httpStatusOf, messageOf } from '../../../src/errors/codes';
import { toAppError } from '../../../src/errors/to-app-error';

function bodyParserError(type: string, status: number, message = 'x'): Error {
  return Object.assign(new Error(message), { type, status, expose: true });
}

describe('error code table', () => {
  it.each([
    [5000, 'internalException', 500],
    [5001, 'clairException', 502],
    [5002, 'registryException', 502],
    [5003, 'paramException', 400],
    [5004, 'notFoundException', 404],
    [5005, 'dbException', 503],
    [5006, 'conflictException', 409],
    [5007, 'authException', 401],
  ])('When the code is %i, then the message is %s and the HTTP status %i', (code, name, status) => {
    expect(messageOf(code)).toBe(name);
    expect(httpStatusOf(code)).toBe(status);
  });

  it('When a code is unknown, then it maps to 500', () => {
    expect(httpStatusOf(1234)).toBe(500);
    expect(messageOf(1234)).toBe('internalException');
  });

  it('When a Clair timeout overrides the status, then 5001 goes out as 504', () => {
    const e = new ScannerError('Clair did not answer within 60 s', { httpStatus: 504 });
    expect([e.code, e.httpStatus]).toEqual([5001, 504]);
  });
});

describe('toAppError', () => {
  it('When given an AppError, then it is returned unchanged', () => {
    const e = new RegistryError('connection refused');
    expect(toAppError(e)).toBe(e);
  });

  it('When given a ZodError, then it is a 5003 naming the field', () => {
    const r = z.object({ size: z.number().max(500) }).safeParse({ size: 900 });
    const e = toAppError(r.error);
    expect(e.code).toBe(5003);
    expect(e.message).toMatch(/^size: /);
  });

  it('When the JSON body cannot be parsed, then it is a 5003 "invalid JSON"', () => {
    const e = toAppError(bodyParserError('entity.parse.failed', 400, 'Unexpected token } in JSON at position 1'));
    expect([e.code, e.message]).toEqual([5003, 'body: invalid JSON']);
  });

  it('When the body is too large, then it is a 5003 naming the limit', () => {
    const e = toAppError(bodyParserError('entity.too.large', 413));
    expect([e.code, e.message]).toEqual([5003, 'body: larger than the 1 MB limit']);
  });

  it('When another body-parser 4xx occurs (e.g. bad charset), then it is a 5003', () => {
    const e = toAppError(bodyParserError('charset.unsupported', 415, 'unsupported charset "X"'));
    expect(e.code).toBe(5003);
  });

  it("When Express's router cannot percent-decode a path parameter, then it is a 5003 naming the path", () => {
    const uri = Object.assign(new URIError("Failed to decode param '%FF'"), { status: 400, statusCode: 400 });
    const e = toAppError(uri);
    expect([e.code, e.httpStatus, e.message]).toEqual([
      5003,
      400,
      'path: a parameter is percent-encoded but does not decode to UTF-8',
    ]);
  });

  it('When a URIError carries no client status (a bug in our code), then it stays a 5000', () => {
    expect(toAppError(new URIError('URI malformed')).code).toBe(5000);
  });

  it('When a declared Content-Encoding does not decode (zlib error with status 400), then it is a 5003', () => {
    const zlib = Object.assign(new Error('incorrect header check'), { code: 'Z_DATA_ERROR', errno: -3, status: 400 });
    const e = toAppError(zlib);
    expect([e.code, e.message]).toEqual([
      5003,
      'body: does not decode with the encoding its Content-Encoding header names',
    ]);
  });

  it('When a declared br body does not decode (brotli error with status 400), then it is a 5003', () => {
    const br = Object.assign(new Error('Decompression failed'), { code: 'ERR__ERROR_FORMAT_PADDING_2', status: 400 });
    expect(toAppError(br).code).toBe(5003);
  });

  it('When mongoose cannot cast a value, then it is a 5003 naming the path', () => {
    const cast = new mongoose.Error.CastError('ObjectId', 'nope', '_id');
    const e = toAppError(cast);
    expect([e.code, e.message]).toEqual([5003, '_id: invalid value']);
  });

  it('When mongoose validation fails, then it is a 5003 naming the path', () => {
    const v = new mongoose.Error.ValidationError();
    v.addError('image', new mongoose.Error.ValidatorError({ path: 'image', type: 'required', message: 'x' }));
    const e = toAppError(v);
    expect([e.code, e.message]).toEqual([5003, 'image: is required']);
  });

  it('When a duplicate key error arrives, then it is a 5006 conflict', () => {
    const dup = Object.assign(new Error('E11000 duplicate key error collection: x'), {
      name: 'MongoServerError',
      code: 11000,
    });
    const e = toAppError(dup);
    expect(e).toBeInstanceOf(ConflictError);
    expect(e.message).not.toMatch(/E11000/);
  });

  it('When the server cannot be selected, then it is a 5005 without driver text', () => {
    const sel = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:27017'), {
      name: 'MongooseServerSelectionError',
    });
    const e = toAppError(sel);
    expect([e.code, e.httpStatus]).toEqual([5005, 503]);
    expect(e.message).not.toMatch(/ECONNREFUSED|27017/);
  });

  it('When a Mongo network error arrives, then it is a 5005', () => {
    const net = Object.assign(new Error('socket closed'), { name: 'MongoNetworkError' });
    expect(toAppError(net).code).toBe(5005);
  });

  it('When anything else is thrown, then it is a 5000 that keeps the cause', () => {
    const boom = new TypeError('x is undefined');
    const e = toAppError(boom);
    expect(e).toBeInstanceOf(AppError);
    expect([e.code, e.httpStatus, e.cause]).toEqual([ErrorCodes.InternalError.code, 500, boom]);
  });

  it('When a non-Error is thrown, then it is a 5000', () => {
    expect(toAppError('string thrown').code).toBe(5000);
  });
});
