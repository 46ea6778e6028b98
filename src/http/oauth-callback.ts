import type { FastifyInstance } from 'fastify';
import { type CallbackQuery, completeConnect } from '../app/integration.js';
import type { Store } from '../app/ports/store.port.js';
import { type AppServices, integrationDeps } from '../app/services.js';
import { CONNECT_CALLBACK_PATH } from '../domain/integration.js';
import type { Logger } from '../logger.js';

export const CONNECT_RESULT_PATH = '/oauth/microsoft/result';
const REQUEST_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** What the admin reads after coming back from Microsoft: fixed texts per code, nothing echoed. */
const RESULT_TEXT: Record<string, { title: string; text: string }> = {
  CONNECTED: {
    title: 'Connected to Microsoft 365',
    text: 'The integration is connected. You can close this page and return to the PBX portal to set up synchronisation.',
  },
  RECONSENTED: {
    title: 'Access to Microsoft 365 renewed',
    text: 'The sign-in and the permissions are renewed; the integration stayed connected throughout. You can close this page.',
  },
  CONSENT_DENIED: {
    title: 'Consent was refused',
    text: 'The permissions were not granted, so nothing changed. Start again from the PBX portal and accept the permissions for your organisation, as a Global Administrator (or a Privileged Role Administrator) for the application permissions.',
  },
  MISSING_PERMISSIONS: {
    title: 'Application permissions are missing',
    text: 'The app registration lacks application permissions the gateway needs (User.Read.All and Group.Read.All), or they have no admin consent. Add them in Entra ID (App registrations, API permissions), then start again from the PBX portal; the PBX portal names each missing permission.',
  },
  TENANT_MISMATCH: {
    title: 'Wrong Microsoft 365 organisation',
    text: 'The account that signed in belongs to another directory than the configured Directory (tenant) ID. Sign in with an administrator of the configured directory.',
  },
  STATE_INVALID: {
    title: 'This sign-in link is no longer valid',
    text: 'It is unknown, was already used, or has expired. Start the connection again from the PBX portal.',
  },
  SECRET_EXPIRED: {
    title: 'The client secret has expired',
    text: 'Create a new client secret in Entra ID and connect again.',
  },
  INVALID_SECRET: {
    title: 'The client secret was refused',
    text: 'Check the client secret value (not its ID) and connect again.',
  },
  INITIALIZATION_FAILED: {
    title: 'The directory could not be read',
    text: 'The sign-in and the permissions were fine, but reading the organisation and its groups failed. Try again from the PBX portal; the portal shows what Microsoft answered.',
  },
  SIGN_IN_FAILED: {
    title: 'Microsoft sign-in failed',
    text: 'The sign-in did not complete. Start the connection again from the PBX portal.',
  },
  UNAVAILABLE: {
    title: 'The gateway could not finish the connection',
    text: 'Something failed on the gateway (its database or Redis did not answer), so nothing was connected. Start the connection again from the PBX portal in a minute; if it fails again, the gateway log has the details under the request id below.',
  },
};

const escapeHtml = (s: string) =>
  s.replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string,
  );

function page(code: string, requestId: string | null = null): string {
  const r = RESULT_TEXT[code] ?? RESULT_TEXT.SIGN_IN_FAILED;
  const ok = code === 'CONNECTED' || code === 'RECONSENTED';
  const id = requestId ? `<p>Request id: <code>${escapeHtml(requestId)}</code></p>` : '';
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(r.title)}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{font-family:system-ui,sans-serif;max-width:40rem;margin:4rem auto;padding:0 1rem;color:#222}
h1{color:${ok ? '#107c10' : '#a4262c'}}code{background:#f3f3f3;padding:.1rem .3rem}</style></head>
<body><h1>${escapeHtml(r.title)}</h1><p>${escapeHtml(r.text)}</p><p>Result code: <code>${escapeHtml(code)}</code></p>${id}</body></html>`;
}

/**
 * The redirect URI of the connect flow (L1, L2): Microsoft sends the admin's browser here
 * with `code` and `state` (or an `error`), and again from its admin consent endpoint
 * (`admin_consent`, `tenant`, `state`) when the journey had to go there; the result page then
 * says what happened. Reconsent comes back here too.
 */
export function registerOAuthCallback(
  app: FastifyInstance,
  deps: { services: AppServices; openStore: () => Store; logger: Logger },
) {
  app.get<{ Querystring: CallbackQuery }>(CONNECT_CALLBACK_PATH, async (request, reply) => {
    const q = request.query ?? {};
    const text = (v: unknown) => (typeof v === 'string' ? v : undefined);
    let outcome: Awaited<ReturnType<typeof completeConnect>>;
    try {
      outcome = await completeConnect(integrationDeps(deps.services, deps.openStore()), {
        state: text(q.state),
        code: text(q.code),
        error: text(q.error),
        error_description: text(q.error_description),
        admin_consent: text(q.admin_consent),
        tenant: text(q.tenant),
      });
    } catch (err) {
      // The admin's browser gets a page it can read, never the error (it may hold SQL and its
      // values); the log gets the error under the request id the page shows.
      request.log.error({ err }, 'the connect callback failed');
      return reply.redirect(
        `${CONNECT_RESULT_PATH}?result=UNAVAILABLE&request=${encodeURIComponent(request.id)}`,
        303,
      );
    }
    if (outcome.kind === 'REDIRECT') {
      deps.logger.info({ pbxId: outcome.pbxId }, 'connect continues at Microsoft admin consent');
      return reply.redirect(outcome.location, 303);
    }
    if (outcome.kind === 'DONE') {
      deps.logger.info({ pbxId: outcome.pbxId, result: outcome.result }, 'integration connected');
      await deps.services
        .afterConnect(outcome.pbxId)
        .catch((err) =>
          deps.logger.warn({ err: (err as Error).message }, 'could not queue the change subscriptions'),
        );
    } else
      deps.logger.warn(
        { pbxId: outcome.pbxId, code: outcome.code, reason: outcome.message },
        'connect failed',
      );
    const code = outcome.kind === 'DONE' ? outcome.result : outcome.code;
    return reply.redirect(`${CONNECT_RESULT_PATH}?result=${encodeURIComponent(code)}`, 303);
  });

  app.get<{ Querystring: { result?: string; request?: string } }>(
    CONNECT_RESULT_PATH,
    async (request, reply) => {
      const code = String(request.query?.result ?? '');
      // A request id as the gateway makes them (a UUID), shown for UNAVAILABLE only: nothing else echoed.
      const failedRequest = String(request.query?.request ?? '');
      const requestId = code === 'UNAVAILABLE' && REQUEST_ID.test(failedRequest) ? failedRequest : null;
      return reply
        .code(RESULT_TEXT[code] ? 200 : 400)
        .header('content-type', 'text/html; charset=utf-8')
        .header('cache-control', 'no-store')
        .header('content-security-policy', "default-src 'none'; style-src 'unsafe-inline'")
        .send(page(RESULT_TEXT[code] ? code : 'SIGN_IN_FAILED', requestId));
    },
  );
}
