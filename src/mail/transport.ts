import nodemailer, { type Transporter } from 'nodemailer';
import { MailSendError, type MailSender, type OutgoingEmail } from '../app/ports/mail.port.js';

export interface MailSettings {
  /** smtp://user:pass@host:587 or smtps://...; null: nothing is sent. */
  smtpUrl: string | null;
  /** The From header, e.g. `PBX <no-reply@example.com>`. */
  from: string;
  /** SMTP connections kept open at most; default 4 (the `mail` queue's concurrency). */
  maxConnections?: number;
}

/** Where the SMTP server is, without the credentials (for logs and messages). */
export function describeSmtpUrl(url: string | null): string {
  if (!url) return 'none';
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.hostname}${u.port ? `:${u.port}` : ''}`;
  } catch {
    return 'invalid';
  }
}

/** SMTP answers 4xx for "try again later", 5xx for "this will not work". Network errors are transient. */
function toSendError(err: unknown): MailSendError {
  const e = err as { message?: string; responseCode?: number; code?: string; response?: string };
  const code = typeof e.responseCode === 'number' ? e.responseCode : undefined;
  const permanent = code !== undefined && code >= 500 && code < 600;
  const message = (e.response || e.message || String(err)).replace(/\s+/g, ' ').trim();
  return new MailSendError(
    code ? `SMTP ${code}: ${message.replace(new RegExp(`^${code}\\s*`), '')}` : message,
    permanent,
    code,
  );
}

/**
 * A MailSender over one pooled nodemailer SMTP transport: a few connections kept open and
 * reused for many messages (a connection per message took ~0.1 s each: 100,000 welcome
 * emails of a first sync would have taken most of an hour). As many connections as the
 * `mail` queue runs jobs at once.
 */
export class SmtpMailSender implements MailSender {
  readonly configured: boolean;
  private readonly transport: Transporter | null;

  constructor(private readonly settings: MailSettings) {
    this.configured = Boolean(settings.smtpUrl);
    this.transport = settings.smtpUrl
      ? nodemailer.createTransport({
          url: settings.smtpUrl,
          pool: true,
          maxConnections: settings.maxConnections ?? 4,
          maxMessages: 500,
          connectionTimeout: 15_000,
          greetingTimeout: 15_000,
          socketTimeout: 60_000,
        })
      : null;
  }

  async send(message: OutgoingEmail): Promise<{ messageId: string }> {
    if (!this.transport) throw new MailSendError('SMTP_URL is not set', true);
    try {
      const info = await this.transport.sendMail({
        from: this.settings.from,
        to: message.to,
        subject: message.subject,
        text: message.text,
        html: message.html,
      });
      // A server may take the message and still refuse the one recipient.
      if (info.rejected?.length)
        throw Object.assign(new Error(`Recipient refused: ${String(info.response ?? '')}`), {
          responseCode: 550,
        });
      return { messageId: String(info.messageId ?? '') };
    } catch (err) {
      throw err instanceof MailSendError ? err : toSendError(err);
    }
  }

  close() {
    this.transport?.close();
  }
}

export function createMailSender(settings: MailSettings): SmtpMailSender {
  return new SmtpMailSender(settings);
}
