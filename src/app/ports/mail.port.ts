/** Sending mail (src/mail implements it over SMTP with nodemailer). */

export interface OutgoingEmail {
  to: string;
  subject: string;
  text: string;
  html: string;
}

/** Sends mail (src/mail). `configured` false: there is no SMTP server to send to. */
export interface MailSender {
  readonly configured: boolean;
  send(message: OutgoingEmail): Promise<{ messageId: string }>;
}

/** Thrown by a MailSender; `permanent` when trying again cannot help (an SMTP 5xx answer). */
export class MailSendError extends Error {
  constructor(
    message: string,
    readonly permanent: boolean,
    readonly responseCode?: number,
  ) {
    super(message);
    this.name = 'MailSendError';
  }
}

/** The content of one welcome email (rendered by src/mail/templates). */
export interface WelcomeEmailContent {
  pbxName: string;
  /** Where the PBX is reached (the Linkus server address), when known. */
  pbxUrl: string | null;
  name: string;
  number: string;
  email: string;
}

/** Renders a welcome email (src/mail/templates); the caller adds the recipient. */
export type RenderWelcomeEmail = (content: WelcomeEmailContent) => Omit<OutgoingEmail, 'to'>;
