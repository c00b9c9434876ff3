import { createServer, connect, type Server, type Socket } from 'node:net';
import { BSON } from 'mongodb';

const OP_MSG = 2013;

export interface StallingProxy {
  /** mongodb://127.0.0.1:<port>/ (directConnection). */
  uri: string;
  /** Commands (by name, e.g. 'find') that are swallowed while stalled; everything else passes. */
  stall(commands: string[]): void;
  /** Lets every command through again. */
  release(): void;
  /** Names of the commands seen from the client, in order. */
  readonly seen: string[];
  close(): Promise<void>;
}

/** The command name of an OP_MSG message: the first key of its body (kind 0) section. */
function commandOf(msg: Buffer): string | null {
  if (msg.readInt32LE(12) !== OP_MSG) return null;
  // header (16) + flagBits (4); then sections, the body first in practice.
  let at = 20;
  while (at < msg.length) {
    const kind = msg[at];
    if (kind === 0) {
      const size = msg.readInt32LE(at + 1);
      const doc = BSON.deserialize(msg.subarray(at + 1, at + 1 + size));
      return Object.keys(doc)[0] ?? null;
    }
    at += 1 + msg.readInt32LE(at + 1);
  }
  return null;
}

/**
 * A TCP proxy in front of a real MongoDB-compatible server that reads the wire protocol and, when
 * told to, swallows chosen commands (they never reach the server and never get an answer) while
 * `ping` and `hello` keep passing: a database that answers pings but not queries.
 */
export async function startStallingProxy(target: { host: string; port: number }): Promise<StallingProxy> {
  let stalled = new Set<string>();
  const seen: string[] = [];
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    const upstream = connect(target.port, target.host);
    sockets.add(client).add(upstream);
    let pending = Buffer.alloc(0);
    client.on('data', (chunk: Buffer) => {
      pending = Buffer.concat([pending, chunk]);
      while (pending.length >= 4 && pending.length >= pending.readInt32LE(0)) {
        const len = pending.readInt32LE(0);
        const msg = pending.subarray(0, len);
        pending = pending.subarray(len);
        const cmd = commandOf(msg);
        if (cmd) seen.push(cmd);
        if (cmd && stalled.has(cmd)) continue;
        upstream.write(msg);
      }
    });
    upstream.pipe(client);
    const end = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  return {
    uri: `mongodb://127.0.0.1:${port}/?directConnection=true`,
    stall(commands) {
      stalled = new Set(commands);
    },
    release() {
      stalled = new Set();
    },
    seen,
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
