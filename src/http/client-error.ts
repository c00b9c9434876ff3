import { STATUS_CODES, type Server } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Logger } from '../logger';
import { fail } from './envelope';

/** Which envelope answers which parser failure; anything else is a malformed request (400). */
function replyFor(code: string | undefined): { status: number; detail: string } {
  if (code === 'HPE_HEADER_OVERFLOW') {
    return { status: 431, detail: 'request: the request line and headers together exceed 16 KB' };
  }
  if (code === 'ERR_HTTP_REQUEST_TIMEOUT' || code === 'ERR_HTTP_HEADERS_TIMEOUT') {
    return { status: 408, detail: 'request: not received in time' };
  }
  return { status: 400, detail: 'request: not a valid HTTP/1.1 request (request line, header or framing)' };
}

/**
 * Answers requests Node's HTTP parser refuses before Express sees them (a 20 KB URL, a raw
 * non-ASCII byte in the request line, broken chunking) with the `{code, data, message}` envelope,
 * code 5003, instead of Node's bare reply; then closes the connection, whose framing can no
 * longer be trusted. Node's 16 KB header limit (--max-http-header-size) stays the bound.
 */
export function answerClientErrors(server: Server, logger: Logger): void {
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => {
    // A reset, or a reply whose headers already went out (a broken chunk mid-body), leaves nothing to answer.
    const reply = (socket as { _httpMessage?: { headersSent?: boolean } | null })._httpMessage;
    if (err.code === 'ECONNRESET' || !socket.writable || reply?.headersSent) {
      socket.destroy();
      return;
    }
    const { status, detail } = replyFor(err.code);
    const body = JSON.stringify(fail(5003, 'paramException', detail));
    socket.end(
      `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\n` +
        'Content-Type: application/json; charset=utf-8\r\n' +
        'X-Content-Type-Options: nosniff\r\n' +
        `Content-Length: ${Buffer.byteLength(body)}\r\n` +
        'Connection: close\r\n\r\n' +
        body,
    );
    // The parser's code only: the raw bytes may hold a token.
    logger.warn({ code: err.code, status }, 'refused a request the HTTP parser could not read');
  });
}
