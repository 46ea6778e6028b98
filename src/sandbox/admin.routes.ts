import { randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type {
  AdminApp,
  AdminGroup,
  AdminTenant,
  AdminUser,
  FaultSettings,
  NewSecret,
  NewTenantInput,
} from './admin.types.js';
import { registerMailboxAdminRoutes } from './mailbox.admin.js';
import { registerPresenceAdminRoutes } from './presence.admin.js';
import { presenceOf } from './presence.store.js';
import { emptyStats, type SandboxContext } from './sandbox.context.js';
import { registerSubscriptionAdminRoutes } from './subscriptions.admin.js';
import { seedTenant } from './tenant.seed.js';
import {
  type AppRegistration,
  type GroupRecord,
  type Props,
  SandboxError,
  type UserRecord,
} from './tenant.store.js';

/**
 * The sandbox's own admin API, under `/_sandbox/` with its own bearer token: change the
 * tenant live (users, groups, members, app secrets, consent) and set the fault knobs.
 * Every directory change goes through Tenant, which records it in the change log, so it
 * shows in delta queries as Graph would show it.
 */
export function userDto(u: UserRecord): AdminUser {
  const out: Record<string, unknown> = { id: u.id, isAdmin: u.isAdmin, deleted: !!u.p.deletedDateTime };
  for (const [k, v] of Object.entries(u.p)) out[k] = v;
  return out as AdminUser;
}

export function groupDto(ctx: SandboxContext, g: GroupRecord): AdminGroup {
  const out: Record<string, unknown> = { id: g.id, deleted: !!g.p.deletedDateTime };
  for (const [k, v] of Object.entries(g.p)) out[k] = v;
  out.members = ctx.tenant.visibleMembers(g);
  return out as AdminGroup;
}

export function appDto(a: AppRegistration): AdminApp {
  return {
    appId: a.appId,
    displayName: a.displayName,
    redirectUris: [...a.redirectUris],
    secrets: a.secrets.map((s) => ({
      keyId: s.keyId,
      displayName: s.displayName,
      hint: s.hint,
      startDateTime: s.startDateTime,
      endDateTime: s.endDateTime,
      expired: Date.parse(s.endDateTime) <= Date.now(),
    })),
    requiredAppRoles: [...a.requiredAppRoles],
    requiredScopes: [...a.requiredScopes],
    grantedAppRoles: [...a.grantedAppRoles],
    adminConsentedScopes: [...a.adminConsentedScopes],
    userConsents: Object.fromEntries([...a.userConsents].map(([k, v]) => [k, [...v]])),
  };
}

/**
 * Another directory beside the seeded one, with its own users, admin and app registration;
 * apps of other directories can be provisioned in it as multi-tenant apps (the app object —
 * client id, secrets, redirect URIs, requested permissions — is shared; consent is this
 * directory's own, and none is granted until its admin consents).
 */
function addTenant(ctx: SandboxContext, input: NewTenantInput): AdminTenant {
  const provision = (input.provisionApps ?? []).map((appId) => {
    for (const t of ctx.tenants.values()) {
      const a = t.apps.get(appId);
      if (a) return a;
    }
    throw new SandboxError(404, 'Request_ResourceNotFound', `Application '${appId}' does not exist.`);
  });
  let seed = input.seed ?? 1000 + ctx.tenants.size;
  let seeded = seedTenant({ seed, users: input.users ?? 10, groups: input.groups });
  while (input.seed === undefined && ctx.tenants.has(seeded.tenant.id)) {
    seed += 1;
    seeded = seedTenant({ seed, users: input.users ?? 10, groups: input.groups });
  }
  const { tenant, app, clientSecret, adminUpn } = seeded;
  if (ctx.tenants.has(tenant.id)) {
    throw new SandboxError(409, 'Conflict', `A directory made from seed ${seed} is already hosted.`);
  }
  for (const home of provision) {
    tenant.apps.set(home.appId, {
      ...home,
      servicePrincipalId: randomUUID(),
      grantedAppRoles: new Set(),
      adminConsentedScopes: new Set(),
      userConsents: new Map(),
    });
  }
  ctx.tenants.set(tenant.id, tenant);
  tenant.changeListeners.push((change) => ctx.notifications?.onDirectoryChange(change, tenant.id));
  presenceOf(tenant).listeners.push((userId, state) =>
    ctx.notifications?.onPresenceChange(userId, state, tenant.id),
  );
  return {
    tenantId: tenant.id,
    tenantName: tenant.displayName,
    initialDomain: tenant.initialDomain,
    defaultDomain: tenant.defaultDomain,
    adminUpn,
    clientId: app.appId,
    clientSecret,
    apps: [...tenant.apps.keys()],
  };
}

function releaseHeld(ctx: SandboxContext): { released: number } {
  const waiting = ctx.gate.waiting.splice(0);
  ctx.gate.pathContains = null;
  for (const resolve of waiting) resolve();
  return { released: waiting.length };
}

function faultsDto(ctx: SandboxContext): FaultSettings {
  return { ...ctx.faults, forced429: ctx.faults.forced429.map((f) => ({ ...f })) };
}

type Req = FastifyRequest<{
  Params: Record<string, string>;
  Querystring: Record<string, string>;
  Body: Record<string, unknown>;
}>;

export function registerAdminRoutes(app: FastifyInstance, ctx: SandboxContext, adminToken: string): void {
  const expected = Buffer.from(`Bearer ${adminToken}`);
  const t = ctx.tenant;

  app.register(
    async (admin) => {
      admin.addHook('onRequest', async (req, reply) => {
        const got = Buffer.from(req.headers.authorization ?? '');
        if (got.length !== expected.length || !timingSafeEqual(got, expected)) {
          return reply.code(401).send({
            error: {
              code: 'Unauthorized',
              message: 'The sandbox admin API needs its bearer token (adminToken).',
            },
          });
        }
      });
      admin.setErrorHandler((e, _req, reply) => {
        if (e instanceof SandboxError)
          return reply.code(e.status).send({ error: { code: e.code, message: e.message } });
        const status = (e as { statusCode?: number }).statusCode ?? 500;
        return reply.code(status).send({
          error: { code: status === 500 ? 'InternalError' : 'BadRequest', message: (e as Error).message },
        });
      });

      const route = (
        method: 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE',
        url: string,
        fn: (req: Req, reply: FastifyReply) => unknown,
      ) => admin.route({ method, url, handler: async (req, reply) => fn(req as Req, reply) });

      route('GET', '/info', () => ({
        tenantId: t.id,
        tenantName: t.displayName,
        initialDomain: t.initialDomain,
        defaultDomain: t.defaultDomain,
        users: t.activeUserCount(),
        groups: t.groups.filter((g) => !g.p.deletedDateTime).length,
        apps: [...t.apps.keys()],
        authorityHost: ctx.authorityHost,
        graphBaseUrl: ctx.graphBaseUrl,
        changeSequence: t.seq,
      }));

      route('GET', '/tenants', () =>
        [...ctx.tenants.values()].map((x) => ({
          tenantId: x.id,
          tenantName: x.displayName,
          initialDomain: x.initialDomain,
          defaultDomain: x.defaultDomain,
          apps: [...x.apps.keys()],
        })),
      );
      route('POST', '/tenants', (req, reply) => {
        const created = addTenant(ctx, (req.body ?? {}) as NewTenantInput);
        return reply.code(201).send(created);
      });
      // A user of another directory changes (its delta and change notifications see it).
      route('PATCH', '/tenants/:tenantId/users/:id', (req) => {
        const other = ctx.tenants.get(req.params.tenantId as string);
        if (!other)
          throw new SandboxError(
            404,
            'Request_ResourceNotFound',
            `Tenant '${req.params.tenantId}' is not hosted.`,
          );
        const changed = other.updateUser(req.params.id as string, (req.body ?? {}) as Props);
        return { ...userDto(other.findUser(req.params.id as string) as UserRecord), changed };
      });

      route('GET', '/stats', () => ctx.stats);
      route('POST', '/stats/reset', () => {
        ctx.stats = emptyStats();
        return ctx.stats;
      });

      // ------------------------------------------------------------ users
      route('GET', '/users', (req) => {
        const skip = Number(req.query.skip ?? 0);
        const top = Math.min(Number(req.query.top ?? 100), 10_000);
        const includeDeleted = req.query.includeDeleted === 'true';
        const type = req.query.userType;
        const enabled = req.query.accountEnabled;
        const list = t.users.filter(
          (u) =>
            (includeDeleted || !u.p.deletedDateTime) &&
            (!type || u.p.userType === type) &&
            (enabled === undefined || String(u.p.accountEnabled) === enabled),
        );
        return { value: list.slice(skip, skip + top).map(userDto), total: list.length };
      });
      route('GET', '/users/:id', (req) => {
        const u = t.findUser(req.params.id as string);
        if (!u)
          throw new SandboxError(404, 'Request_ResourceNotFound', `User '${req.params.id}' does not exist.`);
        return userDto(u);
      });
      route('POST', '/users', (req, reply) => {
        const body = { ...(req.body ?? {}) } as Props & { isAdmin?: boolean };
        delete body.id;
        const u = t.createUser(body);
        return reply.code(201).send(userDto(u));
      });
      route('PATCH', '/users/:id', (req) => {
        const changed = t.updateUser(req.params.id as string, (req.body ?? {}) as Props);
        return { ...userDto(t.findUser(req.params.id as string) as UserRecord), changed };
      });
      route('POST', '/users/:id/disable', (req) => {
        t.updateUser(req.params.id as string, { accountEnabled: false });
        return userDto(t.findUser(req.params.id as string) as UserRecord);
      });
      route('POST', '/users/:id/enable', (req) => {
        t.updateUser(req.params.id as string, { accountEnabled: true });
        return userDto(t.findUser(req.params.id as string) as UserRecord);
      });
      route('DELETE', '/users/:id', (req, reply) => {
        if (req.query.permanent === 'true') t.hardDeleteUser(req.params.id as string);
        else t.softDeleteUser(req.params.id as string);
        return reply.code(204).send();
      });
      route('POST', '/users/:id/restore', (req) => userDto(t.restoreUser(req.params.id as string)));
      // Graph's revokeSignInSessions: the user's refresh tokens stop working (AADSTS50173).
      route('POST', '/users/:id/revoke-sign-in-sessions', (req) => {
        const u = t.findUser(req.params.id as string);
        if (!u)
          throw new SandboxError(404, 'Request_ResourceNotFound', `User '${req.params.id}' does not exist.`);
        return { value: true, revokedRefreshTokens: ctx.revokeSignInSessions(u.id) };
      });

      // ------------------------------------------------------------ groups
      route('GET', '/groups', (req) => {
        const skip = Number(req.query.skip ?? 0);
        const top = Math.min(Number(req.query.top ?? 100), 10_000);
        const includeDeleted = req.query.includeDeleted === 'true';
        const list = t.groups.filter((g) => includeDeleted || !g.p.deletedDateTime);
        return { value: list.slice(skip, skip + top).map((g) => groupDto(ctx, g)), total: list.length };
      });
      route('GET', '/groups/:id', (req) => {
        const g = t.groupsById.get(req.params.id as string);
        if (!g)
          throw new SandboxError(404, 'Request_ResourceNotFound', `Group '${req.params.id}' does not exist.`);
        return groupDto(ctx, g);
      });
      route('POST', '/groups', (req, reply) => {
        const body = { ...(req.body ?? {}) } as Props & { members?: string[] };
        delete body.id;
        return reply.code(201).send(groupDto(ctx, t.createGroup(body)));
      });
      route('PATCH', '/groups/:id', (req) => {
        const changed = t.updateGroup(req.params.id as string, (req.body ?? {}) as Props);
        return { ...groupDto(ctx, t.groupsById.get(req.params.id as string) as GroupRecord), changed };
      });
      route('DELETE', '/groups/:id', (req, reply) => {
        const how = t.deleteGroup(req.params.id as string, { permanent: req.query.permanent === 'true' });
        return reply.code(200).send({ deleted: how });
      });
      route('POST', '/groups/:id/restore', (req) => groupDto(ctx, t.restoreGroup(req.params.id as string)));
      route('POST', '/groups/:id/members', (req, reply) => {
        const memberId = String(req.body?.id ?? '');
        t.addMember(req.params.id as string, memberId);
        return reply.code(204).send();
      });
      route('DELETE', '/groups/:id/members/:memberId', (req, reply) => {
        t.removeMember(req.params.id as string, req.params.memberId as string);
        return reply.code(204).send();
      });

      // ------------------------------------------------------------ app registrations
      route('GET', '/apps', () => [...t.apps.values()].map(appDto));
      route('GET', '/apps/:appId', (req) => appDto(t.app(req.params.appId as string)));
      route('POST', '/apps/:appId/secrets', (req, reply) => {
        const a = t.app(req.params.appId as string);
        const body = req.body ?? {};
        let end: number;
        if (typeof body.endDateTime === 'string') end = Date.parse(body.endDateTime);
        else if (typeof body.expiresInSeconds === 'number') end = Date.now() + body.expiresInSeconds * 1000;
        else end = Date.now() + Number(body.expiresInDays ?? 180) * 86_400_000;
        if (!Number.isFinite(end)) throw new SandboxError(400, 'BadRequest', 'endDateTime is not a date');
        const secretText = `${randomBytes(2).toString('base64url').slice(0, 3)}8Q~${randomBytes(26).toString('base64url').slice(0, 34)}`;
        const secret = {
          keyId: randomUUID(),
          displayName: String(body.displayName ?? 'sandbox secret'),
          hint: secretText.slice(0, 3),
          secretText,
          startDateTime: new Date().toISOString(),
          endDateTime: new Date(end).toISOString(),
        };
        a.secrets.push(secret);
        const out: NewSecret = { keyId: secret.keyId, secretText, endDateTime: secret.endDateTime };
        return reply.code(201).send(out);
      });
      route('POST', '/apps/:appId/secrets/:keyId/expire', (req) => {
        const a = t.app(req.params.appId as string);
        const s = a.secrets.find((x) => x.keyId === req.params.keyId);
        if (!s)
          throw new SandboxError(
            404,
            'Request_ResourceNotFound',
            `Secret '${req.params.keyId}' does not exist.`,
          );
        s.endDateTime = new Date(Date.now() - 1000).toISOString();
        return appDto(a);
      });
      route('DELETE', '/apps/:appId/secrets/:keyId', (req, reply) => {
        const a = t.app(req.params.appId as string);
        const before = a.secrets.length;
        a.secrets = a.secrets.filter((x) => x.keyId !== req.params.keyId);
        if (a.secrets.length === before)
          throw new SandboxError(
            404,
            'Request_ResourceNotFound',
            `Secret '${req.params.keyId}' does not exist.`,
          );
        return reply.code(204).send();
      });
      // Revokes consent: one user's own (userId), given application permissions (appRoles:
      // their app role assignments), given delegated permissions granted for the organisation
      // (scopes), or, with none of these, everything.
      route('POST', '/apps/:appId/consent/revoke', (req) => {
        const a = t.app(req.params.appId as string);
        const body = req.body ?? {};
        const list = (v: unknown) => (Array.isArray(v) ? v.map(String) : null);
        const roles = list(body.appRoles);
        const scopes = list(body.scopes);
        if (typeof body.userId === 'string') {
          a.userConsents.delete(body.userId);
        } else if (roles || scopes) {
          for (const r of roles ?? []) a.grantedAppRoles.delete(r);
          for (const s of scopes ?? []) a.adminConsentedScopes.delete(s);
        } else {
          a.grantedAppRoles.clear();
          a.adminConsentedScopes.clear();
          a.userConsents.clear();
        }
        return appDto(a);
      });
      // The API permissions the registration asks for (the portal's "API permissions" list):
      // what admin consent with /.default grants.
      route('PUT', '/apps/:appId/required-permissions', (req) => {
        const a = t.app(req.params.appId as string);
        const body = req.body ?? {};
        if (Array.isArray(body.appRoles)) a.requiredAppRoles = body.appRoles.map(String);
        if (Array.isArray(body.scopes)) a.requiredScopes = body.scopes.map(String);
        return appDto(a);
      });
      route('POST', '/apps/:appId/consent/grant', (req) => {
        const a = t.app(req.params.appId as string);
        const body = req.body ?? {};
        const roles = Array.isArray(body.appRoles) ? body.appRoles.map(String) : a.requiredAppRoles;
        const scopes = Array.isArray(body.scopes) ? body.scopes.map(String) : a.requiredScopes;
        for (const r of roles) a.grantedAppRoles.add(r);
        for (const s of scopes) a.adminConsentedScopes.add(s);
        return appDto(a);
      });
      route('POST', '/apps/:appId/redirect-uris', (req) => {
        const a = t.app(req.params.appId as string);
        const uri = String(req.body?.uri ?? '');
        try {
          new URL(uri);
        } catch {
          throw new SandboxError(400, 'BadRequest', `'${uri}' is not an absolute URI`);
        }
        if (!a.redirectUris.includes(uri)) a.redirectUris.push(uri);
        return appDto(a);
      });

      // ------------------------------------------------------------ change notifications
      registerSubscriptionAdminRoutes(admin, ctx);

      // ------------------------------------------------------------ mailboxes and contacts
      registerMailboxAdminRoutes(admin, ctx);

      // ------------------------------------------------------------ Teams presence
      registerPresenceAdminRoutes(admin, ctx);

      // ------------------------------------------------------------ faults
      route('GET', '/faults', () => faultsDto(ctx));
      route('PATCH', '/faults', (req) => {
        const b = req.body ?? {};
        if (b.latencyMs !== undefined) ctx.faults.latencyMs = Math.max(0, Number(b.latencyMs));
        if (b.errorRate !== undefined) ctx.faults.errorRate = Math.min(1, Math.max(0, Number(b.errorRate)));
        if (b.throttling !== undefined) ctx.faults.throttling = !!b.throttling;
        if (b.resourceUnitLimit !== undefined) {
          ctx.faults.resourceUnitLimit =
            b.resourceUnitLimit === null ? null : Math.max(1, Number(b.resourceUnitLimit));
          ctx.buckets.reset();
        }
        return faultsDto(ctx);
      });
      route('POST', '/faults/throttle', (req) => {
        const b = req.body ?? {};
        ctx.faults.forced429.push({
          remaining: Math.max(1, Number(b.count ?? 1)),
          retryAfterSeconds: Math.max(0, Number(b.retryAfterSeconds ?? 1)),
          ...(typeof b.pathContains === 'string' ? { pathContains: b.pathContains } : {}),
        });
        return faultsDto(ctx);
      });
      // Holds Graph requests whose path and query contain `pathContains` until released
      // (see SandboxContext.gate); `GET /faults/hold` says how many wait.
      route('POST', '/faults/hold', (req) => {
        const pathContains = req.body?.pathContains;
        if (typeof pathContains !== 'string' || !pathContains) {
          throw new SandboxError(400, 'BadRequest', 'pathContains: a non-empty string');
        }
        ctx.gate.pathContains = pathContains;
        return { pathContains, waiting: ctx.gate.waiting.length };
      });
      route('GET', '/faults/hold', () => ({
        pathContains: ctx.gate.pathContains,
        waiting: ctx.gate.waiting.length,
      }));
      route('POST', '/faults/release', () => releaseHeld(ctx));
      route('POST', '/faults/expire-delta-tokens', (req) => {
        const code = req.body?.code;
        if (code !== undefined && (typeof code !== 'string' || code.toLowerCase() !== 'syncstatenotfound')) {
          throw new SandboxError(400, 'BadRequest', "code: 'syncStateNotFound' in any letter case");
        }
        t.deltaTokensValidAfter = Date.now() + 1;
        t.deltaExpiredCode = code ?? 'syncStateNotFound';
        return {
          deltaTokensValidAfter: new Date(t.deltaTokensValidAfter).toISOString(),
          code: t.deltaExpiredCode,
        };
      });
      // Graph's "synchronization reset": every delta and skip token issued so far answers
      // 410 Gone with a Location header that starts a new full round (see delta.engine.ts).
      route('POST', '/faults/delta-resync', () => {
        t.deltaTokensGoneBefore = Date.now() + 1;
        return { deltaTokensGoneBefore: new Date(t.deltaTokensGoneBefore).toISOString() };
      });
      route('POST', '/faults/reset', () => {
        const initial = ctx.initialFaults;
        ctx.faults.latencyMs = initial.latencyMs;
        ctx.faults.errorRate = initial.errorRate;
        ctx.faults.throttling = initial.throttling;
        ctx.faults.resourceUnitLimit = initial.resourceUnitLimit;
        ctx.faults.forced429 = [];
        releaseHeld(ctx);
        ctx.buckets.reset();
        ctx.mailboxThrottle.reset();
        ctx.presenceThrottle.reset();
        return faultsDto(ctx);
      });
    },
    { prefix: '/_sandbox' },
  );
}
