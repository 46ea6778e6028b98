import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { escapeHtml, renderWelcomeEmail } from '../../src/mail/templates.js';
import { describeSmtpUrl } from '../../src/mail/transport.js';

const content = {
  pbxName: 'Acme HQ',
  pbxUrl: 'https://pbx.acme.example',
  name: 'Ada Lovelace',
  number: '1042',
  email: 'ada@acme.example',
};

describe('U6 welcome email template', () => {
  it('says, in text and HTML alike, the number, the name, the PBX and how to sign in to Linkus', () => {
    const m = renderWelcomeEmail(content);
    expect(m.subject).toBe('Welcome to Linkus: your extension 1042 on Acme HQ');
    for (const body of [m.text, m.html]) {
      expect(body).toContain('1042');
      expect(body).toContain('Ada Lovelace');
      expect(body).toContain('Acme HQ');
      expect(body).toContain('ada@acme.example');
      expect(body).toContain('https://pbx.acme.example');
      expect(body).toMatch(/Linkus/);
      expect(body).toMatch(/Sign in with Microsoft/);
    }
    expect(m.text).toContain('Extension number: 1042');
    expect(m.html).toMatch(/^<!doctype html>/);
  });

  it('leaves the PBX address out when the PBX has none', () => {
    const m = renderWelcomeEmail({ ...content, pbxUrl: null });
    expect(m.text).not.toContain('PBX address');
    expect(m.html).not.toContain('PBX address');
    expect(m.text).toContain(
      'Sign in with your email address ada@acme.example (or your extension number 1042)',
    );
  });

  it('escapes directory text in the HTML and keeps the subject on one line', () => {
    const m = renderWelcomeEmail({
      ...content,
      name: '<script>alert("x")</script> & Co',
      pbxName: 'Evil\r\nBcc: all@example.com',
    });
    expect(m.html).not.toContain('<script>');
    expect(m.html).toContain('&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; Co');
    expect(m.subject).not.toMatch(/[\r\n]/);
    expect(m.subject).toBe('Welcome to Linkus: your extension 1042 on Evil Bcc: all@example.com');
    expect(m.text).toContain('<script>alert("x")</script> & Co');
  });

  it('falls back to the email when the name is empty', () => {
    expect(renderWelcomeEmail({ ...content, name: '  ' }).text).toMatch(/^Hello ada@acme\.example,/);
  });

  it('carries no password or secret', () => {
    const m = renderWelcomeEmail(content);
    expect(`${m.text}\n${m.html}`).not.toMatch(/password:|secret|token/i);
  });

  it('escapeHtml covers the five characters', () => {
    expect(escapeHtml(`&<>"'`)).toBe('&amp;&lt;&gt;&quot;&#39;');
  });
});

describe('U6 mail settings', () => {
  const KEY = { SECRET_KEY: 'a'.repeat(64) };

  it('default: no SMTP server, From PBX <no-reply@localhost>, 5 attempts from 30 s', () => {
    expect(loadConfig(KEY, []).mail).toEqual({
      smtpUrl: null,
      from: 'PBX <no-reply@localhost>',
      attempts: 5,
      retryDelayMs: 30_000,
    });
  });

  it('reads SMTP_URL, MAIL_FROM, MAIL_ATTEMPTS and MAIL_RETRY_DELAY_MS', () => {
    const c = loadConfig(
      {
        ...KEY,
        SMTP_URL: 'smtp://u:p@mail.example:587',
        MAIL_FROM: 'Acme <pbx@acme.example>',
        MAIL_ATTEMPTS: '3',
        MAIL_RETRY_DELAY_MS: '100',
      },
      [],
    );
    expect(c.mail).toEqual({
      smtpUrl: 'smtp://u:p@mail.example:587',
      from: 'Acme <pbx@acme.example>',
      attempts: 3,
      retryDelayMs: 100,
    });
  });

  it('refuses an SMTP_URL that is not smtp:// or smtps://', () => {
    expect(() => loadConfig({ ...KEY, SMTP_URL: 'http://mail.example' }, [])).toThrow(
      /SMTP_URL: must be smtp:\/\//,
    );
    expect(() => loadConfig({ ...KEY, MAIL_ATTEMPTS: '0' }, [])).toThrow(/MAIL_ATTEMPTS/);
  });

  it('describes the SMTP server without its credentials', () => {
    expect(describeSmtpUrl('smtp://user:s3cret@mail.example:587')).toBe('smtp://mail.example:587');
    expect(describeSmtpUrl(null)).toBe('none');
  });
});
