import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { type PresenceState, presenceOf } from './presence.store.js';
import type { SandboxContext } from './sandbox.context.js';
import { SandboxError } from './sandbox.error.js';

/**
 * Admin API for Teams presence (under `/_sandbox`, registered by admin.routes.ts): read and set
 * a user's presence (one or many at once), the load mode (presence changes spread over each
 * minute) and the presence API's request limit.
 */
type Req = FastifyRequest<{
  Params: Record<string, string>;
  Body: Record<string, unknown> | undefined;
}>;

export interface AdminPresence {
  userId: string;
  availability: string;
  activity: string;
  /** ISO time of the last change; null while the user has the seeded presence */
  changedAt: string | null;
}

function dto(userId: string, s: PresenceState): AdminPresence {
  return {
    userId,
    availability: s.availability,
    activity: s.activity,
    changedAt: s.changedAt ? new Date(s.changedAt).toISOString() : null,
  };
}

export function registerPresenceAdminRoutes(admin: FastifyInstance, ctx: SandboxContext): void {
  const t = ctx.tenant;
  const store = presenceOf(t);
  const route = (
    method: 'GET' | 'PUT' | 'POST',
    url: string,
    fn: (req: Req, reply: FastifyReply) => unknown,
  ) => admin.route({ method, url, handler: async (req, reply) => fn(req as Req, reply) });
  const userId = (idOrUpn: string) => {
    const u = t.activeUser(idOrUpn);
    if (!u) throw new SandboxError(404, 'Request_ResourceNotFound', `User '${idOrUpn}' does not exist.`);
    return u.id;
  };

  route('GET', '/users/:user/presence', (req) => {
    const id = userId(req.params.user as string);
    return dto(id, store.get(id) as PresenceState);
  });
  route('PUT', '/users/:user/presence', (req) => {
    const id = userId(req.params.user as string);
    const b = req.body ?? {};
    return dto(id, store.set(id, String(b.availability), String(b.activity)));
  });
  // Many users at once: { changes: [{ userId, availability, activity }] } (the bench's changes).
  route('POST', '/presence/changes', (req) => {
    const changes = (req.body?.changes ?? []) as Array<Record<string, unknown>>;
    if (!Array.isArray(changes)) throw new SandboxError(400, 'BadRequest', 'changes: an array');
    const now = Date.now();
    return changes.map((c) => {
      const id = userId(String(c.userId));
      return dto(id, store.set(id, String(c.availability), String(c.activity), now));
    });
  });

  const loadDto = () => ({
    changesPerMinute: ctx.presenceLoad.changesPerMinute,
    changesMade: ctx.presenceLoad.changesMade,
  });
  route('GET', '/presence/load', loadDto);
  // { changesPerMinute } or { share } (0..1 of the live users each minute); 0 stops it.
  route('PUT', '/presence/load', (req) => {
    const b = req.body ?? {};
    const perMinute =
      b.share !== undefined
        ? Math.round(Math.min(1, Math.max(0, Number(b.share))) * t.activeUserCount())
        : Math.max(0, Number(b.changesPerMinute ?? 0));
    if (!Number.isFinite(perMinute)) throw new SandboxError(400, 'BadRequest', 'changesPerMinute or share');
    ctx.presenceLoad.start(() => t, perMinute);
    return loadDto();
  });

  const throttleDto = () => ({
    ...ctx.presenceThrottle.settings,
    inWindow: ctx.presenceThrottle.inWindow(`${t.id}|${t.apps.keys().next().value ?? ''}`),
  });
  route('GET', '/presence/throttling', throttleDto);
  route('PUT', '/presence/throttling', (req) => {
    const b = req.body ?? {};
    const s = ctx.presenceThrottle.settings;
    if (b.enabled !== undefined) s.enabled = !!b.enabled;
    if (b.requests !== undefined) s.requests = Math.max(1, Number(b.requests));
    if (b.windowSeconds !== undefined) s.windowSeconds = Math.max(1, Number(b.windowSeconds));
    return throttleDto();
  });
}
