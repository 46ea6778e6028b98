import type { OutgoingEmail, WelcomeEmailContent } from '../app/ports/mail.port.js';

/** Escapes text for HTML element content and attribute values. */
export function escapeHtml(text: string): string {
  return text.replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string,
  );
}

/** A header value on one line (a name from the directory must not add headers). */
const oneLine = (text: string) => text.replace(/[\r\n\t]+/g, ' ').trim();

/**
 * U6: the Linkus welcome email, as plain text and HTML with the same content: who the
 * extension is for, its number, the PBX, and how to sign in to Linkus. It carries no
 * password or other secret: the user signs in with the email address (or the extension
 * number) and, where the PBX offers it, with the Microsoft account.
 */
export function renderWelcomeEmail(c: WelcomeEmailContent): Omit<OutgoingEmail, 'to'> {
  const name = oneLine(c.name) || c.email;
  const pbxName = oneLine(c.pbxName);
  const server = c.pbxUrl ? oneLine(c.pbxUrl) : null;
  const subject = `Welcome to Linkus: your extension ${c.number} on ${pbxName}`;

  const text = [
    `Hello ${name},`,
    '',
    `You have a new phone extension on ${pbxName}.`,
    '',
    `  Extension number: ${c.number}`,
    `  Name:             ${name}`,
    `  Email:            ${c.email}`,
    ...(server ? [`  PBX address:      ${server}`] : []),
    '',
    'Sign in to Linkus:',
    '  1. Install Linkus on your phone or computer, or open the Linkus Web Client.',
    `  2. ${server ? `Enter the PBX address ${server}, then sign` : 'Sign'} in with your email address ${c.email} (or your extension number ${c.number}).`,
    '  3. If "Sign in with Microsoft" is offered, use it with your Microsoft 365 account.',
    '',
    'Your PBX administrator has not sent you a password in this email, and never will.',
    '',
    `-- ${pbxName}`,
    '',
  ].join('\n');

  const e = escapeHtml;
  const row = (label: string, value: string) =>
    `<tr><td style="padding:2px 12px 2px 0;color:#555">${e(label)}</td><td style="padding:2px 0"><strong>${e(value)}</strong></td></tr>`;
  const html = [
    '<!doctype html>',
    `<html><head><meta charset="utf-8"><title>${e(subject)}</title></head>`,
    '<body style="font-family:Arial,Helvetica,sans-serif;font-size:14px;color:#222">',
    `<p>Hello ${e(name)},</p>`,
    `<p>You have a new phone extension on <strong>${e(pbxName)}</strong>.</p>`,
    '<table>',
    row('Extension number', c.number),
    row('Name', name),
    row('Email', c.email),
    ...(server ? [row('PBX address', server)] : []),
    '</table>',
    '<p>Sign in to Linkus:</p>',
    '<ol>',
    '<li>Install Linkus on your phone or computer, or open the Linkus Web Client.</li>',
    `<li>${server ? `Enter the PBX address <strong>${e(server)}</strong>, then sign` : 'Sign'} in with your email address <strong>${e(c.email)}</strong> (or your extension number <strong>${e(c.number)}</strong>).</li>`,
    '<li>If &quot;Sign in with Microsoft&quot; is offered, use it with your Microsoft 365 account.</li>',
    '</ol>',
    '<p style="color:#555">Your PBX administrator has not sent you a password in this email, and never will.</p>',
    `<p>&mdash; ${e(pbxName)}</p>`,
    '</body></html>',
    '',
  ].join('\n');

  return { subject, text, html };
}
