import { fail, ok } from '../../../src/http/envelope';

describe('envelope', () => {
  it('When a handler succeeds, then the body is {code 0, data, message "ok"}', () => {
    expect(ok({ a: 1 })).toEqual({ code: 0, data: { a: 1 }, message: 'ok' });
  });

  it('When a request fails, then the body carries the code, its name and the detail', () => {
    expect(fail(5003, 'paramException', 'body.high: must be a number')).toEqual({
      code: 5003,
      data: 'body.high: must be a number',
      message: 'paramException',
    });
  });
});
