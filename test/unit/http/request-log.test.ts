import { redactQuery } from '../../../src/http/middleware/request-log';

describe('redactQuery', () => {
  it.each([
    ['/api/score', '/api/score'],
    ['/api/score?', '/api/score?'],
    ['/api/score?token=abc-secret', '/api/score?token=[redacted]'],
    [
      '/api/repository?repository=host:5000&passwd=x&flag',
      '/api/repository?repository=[redacted]&passwd=[redacted]&flag=[redacted]',
    ],
    ['/a?b=1=2&&c=', '/a?b=[redacted]&c=[redacted]'],
  ])('When the URL is %s, then it is logged as %s', (url, logged) => {
    expect(redactQuery(url)).toBe(logged);
  });
});
