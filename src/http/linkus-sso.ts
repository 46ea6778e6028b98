import type { FastifyInstance, FastifyReply } from 'fastify';
import {
  type CallbackQuery,
  completeLinkusSignIn,
  type LinkusSignInDeps,
  type LinkusSignInOutcome,
  type StartQuery,
  startLinkusSignIn,
} from '../app/linkus-sign-in.js';
import { LINKUS_SSO_START_PATH } from '../app/linkus-sso.js';
import type { LinkusSignInCodes } from '../app/ports/linkus-sso.port.js';
import type { Store } from '../app/ports/store.port.js';
import type { AppServices } from '../app/services.js';
import { LINKUS_SSO_CALLBACK_PATH } from '../domain/integration.js';

const escapeHtml = (s: string) =>
  s.replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string,
  );

/** The gateway's own answer when it has no redirect URI it may trust: fixed texts per code. */
function errorPage(code: string, message: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Linkus sign-in failed</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{font-family:system-ui,sans-serif;max-width:40rem;margin:4rem auto;padding:0 1rem;color:#222}
h1{color:#a4262c}code{background:#f3f3f3;padding:.1rem .3rem}</style></head>
<body><h1>Linkus sign-in failed</h1><p>${escapeHtml(message)}</p><p>Start again from Linkus. Result code: <code id="code">${escapeHtml(code)}</code></p></body></html>`;
}

function answer(reply: FastifyReply, outcome: LinkusSignInOutcome) {
  reply.header('cache-control', 'no-store').header('referrer-policy', 'no-referrer');
  if (outcome.kind === 'REDIRECT') return reply.redirect(outcome.location, 302);
  return reply
    .code(outcome.status)
    .header('content-type', 'text/html; charset=utf-8')
    .header('content-security-policy', "default-src 'none'; style-src 'unsafe-inline'")
    .send(errorPage(outcome.code, outcome.message));
}

const text = (v: unknown) => (typeof v === 'string' ? v : undefined);

/**
 * S2: the Microsoft leg of a Linkus sign-in over HTTP. `start` is where a Linkus client sends
 * the browser (`pbx`, `redirect_uri`, `state`, `code_challenge`, `code_challenge_method=S256`);
 * the callback is the Linkus Web Client SSO redirect URI (L1) registered in Entra ID. Both
 * answer with a redirect, or an error page when no registered redirect URI is known.
 */
export function registerLinkusSso(
  app: FastifyInstance,
  deps: { services: AppServices; openStore: () => Store; codes: LinkusSignInCodes; ratePerMinute: number },
) {
  // Each start keeps a pending sign-in in Redis for 10 minutes, before anyone signed in: a
  // source address gets `LINKUS_SSO_RATE_LIMIT_PER_MINUTE` of them a minute (429 past it).
  const options = { config: { rateLimit: { max: deps.ratePerMinute, timeWindow: 60_000 } } };
  const signInDeps = (): LinkusSignInDeps => ({
    store: deps.openStore(),
    secrets: deps.services.secrets,
    states: deps.services.linkusSignIn.states,
    microsoft: deps.services.linkusSignIn.microsoft,
    codes: deps.codes,
    log: deps.services.log,
  });
  app.get<{ Querystring: StartQuery }>(LINKUS_SSO_START_PATH, options, async (request, reply) => {
    const q = request.query ?? {};
    return answer(
      reply,
      await startLinkusSignIn(signInDeps(), {
        pbx: text(q.pbx),
        redirect_uri: text(q.redirect_uri),
        state: text(q.state),
        code_challenge: text(q.code_challenge),
        code_challenge_method: text(q.code_challenge_method),
      }),
    );
  });
  app.get<{ Querystring: CallbackQuery }>(LINKUS_SSO_CALLBACK_PATH, options, async (request, reply) => {
    const q = request.query ?? {};
    return answer(
      reply,
      await completeLinkusSignIn(signInDeps(), {
        state: text(q.state),
        code: text(q.code),
        error: text(q.error),
        error_description: text(q.error_description),
      }),
    );
  });
}
