import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';

/**
 * A real SMTP server in the test process (smtp-server) that keeps every message it accepts
 * and can be told to refuse some recipients, for a while or for good.
 */

export interface Received {
  to: string[];
  raw: string;
}

export type RcptRule = (attempt: number) => { code: number; message: string } | null;

export async function startSmtpServer() {
  const messages: Received[] = [];
  const rcptAttempts = new Map<string, number>();
  const rules = new Map<string, RcptRule>();
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    onRcptTo(address, _session, callback) {
      const a = address.address.toLowerCase();
      const n = (rcptAttempts.get(a) ?? 0) + 1;
      rcptAttempts.set(a, n);
      const refusal = rules.get(a)?.(n);
      if (refusal) return callback(Object.assign(new Error(refusal.message), { responseCode: refusal.code }));
      callback();
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        messages.push({
          to: session.envelope.rcptTo.map((r) => r.address.toLowerCase()),
          raw: Buffer.concat(chunks).toString('utf8'),
        });
        callback();
      });
    },
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const { port } = server.server.address() as AddressInfo;
  return {
    url: `smtp://127.0.0.1:${port}`,
    messages,
    rcptAttempts,
    rules,
    to: (address: string) => messages.filter((m) => m.to.includes(address.toLowerCase())),
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
