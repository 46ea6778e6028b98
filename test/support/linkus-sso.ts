import { createHash, randomBytes } from 'node:crypto';
import { type Agent, request } from 'undici';
import { SANDBOX_PASSWORD } from '../../src/sandbox/tenant.seed.js';

/**
 * A Linkus client and its user's browser over plain HTTP (S2, S3): start at the gateway, sign in
 * at the sandbox's real sign-in page (its form, posted as a browser posts it, with its session
 * cookie), consent if asked, and come back through the gateway's callback to the client's
 * redirect URI. Each step can be stopped to look at (or change the world) before the next.
 */

export function pkcePair() {
  const verifier = randomBytes(32).toString('base64url');
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
}

export interface StartParams {
  pbx: string;
  redirectUri?: string;
  state?: string;
  codeChallenge?: string;
  codeChallengeMethod?: string;
}

export function startUrl(gatewayUrl: string, p: StartParams): string {
  const u = new URL(`${gatewayUrl}/linkus/sso/microsoft/start`);
  const set = (k: string, v: string | undefined) => v !== undefined && u.searchParams.set(k, v);
  set('pbx', p.pbx);
  set('redirect_uri', p.redirectUri);
  set('state', p.state);
  set('code_challenge', p.codeChallenge);
  set('code_challenge_method', p.codeChallengeMethod);
  return u.toString();
}

/** A gateway answer: its status, where it redirects (if it does), and its page (if it has one). */
export interface Hop {
  status: number;
  location: string | null;
  body: string;
}

export async function gatewayGet(url: string): Promise<Hop> {
  const res = await fetch(url, { redirect: 'manual' });
  return { status: res.status, location: res.headers.get('location'), body: await res.text() };
}

/** The parameters a redirect to the Linkus client carries. */
export function clientParams(location: string | null): Record<string, string> {
  if (!location) throw new Error('no redirect');
  return Object.fromEntries(new URL(location).searchParams);
}

const formField = (html: string, name: string) =>
  new RegExp(`name="${name}" value="([^"]*)"`).exec(html)?.[1]?.replace(/&amp;/g, '&');
const formAction = (html: string) => /<form method="post" action="([^"]+)"/.exec(html)?.[1];

/**
 * The user at the sandbox's sign-in page: opens the authorize URL, posts login and password,
 * accepts (or declines) a consent page. Ends at the redirect back to the gateway (`location`),
 * or at a sandbox page that does not redirect (`page`, with its status).
 */
export async function signInAtMicrosoft(
  agent: Agent,
  authorizeUrl: string,
  login: string,
  opts: { password?: string; consent?: 'accept' | 'cancel' } = {},
): Promise<{ location: string | null; page: string; status: number }> {
  const cookies = new Map<string, string>();
  const remember = (h: string | string[] | undefined) => {
    for (const c of Array.isArray(h) ? h : h ? [h] : []) {
      const pair = c.split(';')[0] ?? '';
      const i = pair.indexOf('=');
      if (i > 0) cookies.set(pair.slice(0, i), pair.slice(i + 1));
    }
  };
  const cookieHeader = () => [...cookies].map(([k, v]) => `${k}=${v}`).join('; ');
  const origin = new URL(authorizeUrl).origin;
  const send = async (url: string, form?: Record<string, string>) => {
    const res = await request(url, {
      method: form ? 'POST' : 'GET',
      dispatcher: agent,
      headers: {
        ...(cookies.size ? { cookie: cookieHeader() } : {}),
        ...(form ? { 'content-type': 'application/x-www-form-urlencoded' } : {}),
      },
      body: form ? new URLSearchParams(form).toString() : undefined,
    });
    remember(res.headers['set-cookie']);
    const page = await res.body.text();
    const location = typeof res.headers.location === 'string' ? res.headers.location : null;
    return { status: res.statusCode, location, page };
  };
  let hop = await send(authorizeUrl);
  if (hop.location || !formAction(hop.page)?.endsWith('/login')) return hop;
  hop = await send(`${origin}${formAction(hop.page)}`, {
    flow: formField(hop.page, 'flow') ?? '',
    login,
    password: opts.password ?? SANDBOX_PASSWORD,
    action: 'signin',
  });
  if (hop.location || !formAction(hop.page)?.endsWith('/consent')) return hop;
  return send(`${origin}${formAction(hop.page)}`, {
    flow: formField(hop.page, 'flow') ?? '',
    decision: opts.consent ?? 'accept',
  });
}
