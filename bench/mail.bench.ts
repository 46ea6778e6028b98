/**
 * `npm run bench -- mail [--emails 400] [--concurrency 4]`
 *
 * Welcome emails (U6) a second, sent as the `mail` queue sends them (`--concurrency` jobs at
 * once) through the gateway's SMTP sender (src/mail/transport.ts, pooled connections), against
 * a connection per message, to a real SMTP server in this process (smtp-server, as the tests).
 * A first sync of 100,000 users can queue 100,000 of them. The figures go to bench/results/mail.json.
 */
import nodemailer from 'nodemailer';
import { SmtpMailSender } from '../src/mail/transport.js';
import { startSmtpServer } from '../test/support/smtp.js';
import { Args } from './support/args.js';
import { benchCommand, writeResults } from './support/results.js';

export async function main(argv: string[]) {
  const args = new Args(argv);
  const emails = Math.max(1, Math.floor(args.number('emails', 400)));
  const concurrency = Math.max(1, Math.floor(args.number('concurrency', 4)));
  const smtp = await startSmtpServer();
  const message = (i: number) => ({
    to: `user${i}@example.com`,
    subject: 'Welcome to Linkus',
    text: 'Your extension is ready.',
    html: '<p>Your extension is ready.</p>',
  });
  const rate = async (send: (i: number) => Promise<unknown>) => {
    const started = performance.now();
    let next = 0;
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (next < emails) await send(next++);
      }),
    );
    return emails / ((performance.now() - started) / 1000);
  };
  const single = nodemailer.createTransport({ url: smtp.url });
  const perMessage = await rate((i) => single.sendMail({ from: 'pbx@example.com', ...message(i) }));
  single.close();
  const sender = new SmtpMailSender({
    smtpUrl: smtp.url,
    from: 'pbx@example.com',
    maxConnections: concurrency,
  });
  const pooled = await rate((i) => sender.send(message(i)));
  sender.close();
  await smtp.close();
  const minutes = (perSecond: number) => (100_000 / perSecond / 60).toFixed(1);
  console.log(`mail bench: ${emails} emails each way, ${concurrency} at a time; node ${process.version}`);
  console.log(
    `  connection per message   ${perMessage.toFixed(0)} emails/s  (100,000 in ${minutes(perMessage)} min)`,
  );
  console.log(
    `  gateway (pooled)         ${pooled.toFixed(0)} emails/s  (100,000 in ${minutes(pooled)} min)`,
  );
  console.log(`  received by the server   ${smtp.messages.length}`);
  writeResults('mail', {
    command: benchCommand('mail', argv),
    args: { emails, concurrency },
    figures: {
      pooledPerSecond: Math.round(pooled),
      perMessagePerSecond: Math.round(perMessage),
      received: smtp.messages.length,
      minutesFor100k: { pooled: 100_000 / pooled / 60, perMessage: 100_000 / perMessage / 60 },
    },
  });
}
