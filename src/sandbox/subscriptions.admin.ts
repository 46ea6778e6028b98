import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { AdminSubscription, NotificationStatus } from './admin.types.js';
import type { LifecycleEvent } from './notifications.dispatcher.js';
import type { SandboxContext } from './sandbox.context.js';
import { applySettings, graphTime, type SubscriptionRecord } from './subscriptions.store.js';
import { SandboxError } from './tenant.store.js';

/**
 * Admin API for change notifications (under `/_sandbox`, registered by admin.routes.ts):
 *
 * - `GET /subscriptions[?includeEnded=true]`, `GET /subscriptions/{id}`: subscriptions with
 *   their state and delivery counts; `DELETE /subscriptions`: forget them all (and the queues).
 * - `POST /subscriptions/{id}/lifecycle` `{ event }`: raise a lifecycle event as Graph would
 *   (`reauthorizationRequired` by default; `subscriptionRemoved` also removes it; `missed`).
 * - `POST /subscriptions/{id}/expire`: its time is up now (Graph then deletes it, silently).
 * - `DELETE /subscriptions/{id}[?notify=true]`: Graph removes it; with `notify` a
 *   `subscriptionRemoved` lifecycle notification goes out (Graph documents that event for
 *   Outlook and Teams resources only).
 * - `GET /notifications`: settings, queue sizes, totals; `PATCH /notifications/settings`;
 *   `POST /notifications/settings/reset`.
 */
type Req = FastifyRequest<{
  Params: Record<string, string>;
  Querystring: Record<string, string>;
  Body: Record<string, unknown> | undefined;
}>;

const EVENTS = new Set<LifecycleEvent>(['reauthorizationRequired', 'subscriptionRemoved', 'missed']);

export function subscriptionDto(ctx: SandboxContext, s: SubscriptionRecord): AdminSubscription {
  return {
    id: s.id,
    resource: s.resource,
    changeType: s.changeType,
    notificationUrl: s.notificationUrl,
    lifecycleNotificationUrl: s.lifecycleNotificationUrl,
    clientState: s.clientState,
    expirationDateTime: graphTime(s.expiresAt),
    applicationId: s.applicationId,
    creatorId: s.creatorId,
    createdDateTime: new Date(s.createdAt).toISOString(),
    state: s.state,
    endedDateTime: s.endedAt === null ? null : new Date(s.endedAt).toISOString(),
    reauthorizationRequired: s.reauthorizationRequiredAt !== null,
    paused: s.state === 'active' && !!ctx.notifications?.paused(s),
    stats: { ...s.stats },
  };
}

export function registerSubscriptionAdminRoutes(admin: FastifyInstance, ctx: SandboxContext): void {
  const store = ctx.subscriptions;
  const route = (
    method: 'GET' | 'POST' | 'PATCH' | 'DELETE',
    url: string,
    fn: (req: Req, reply: FastifyReply) => unknown,
  ) => admin.route({ method, url, handler: async (req, reply) => fn(req as Req, reply) });

  const find = (id: string): SubscriptionRecord => {
    store.list(); // ends the expired ones first
    const s = store.find(id);
    if (!s) throw new SandboxError(404, 'Request_ResourceNotFound', `Subscription '${id}' does not exist.`);
    return s;
  };
  const live = (id: string): SubscriptionRecord => {
    const s = find(id);
    if (s.state !== 'active') throw new SandboxError(409, 'Conflict', `Subscription '${id}' is ${s.state}.`);
    return s;
  };
  const status = (): NotificationStatus => {
    const st = ctx.notifications?.status() ?? {
      batched: 0,
      retrying: 0,
      inFlight: 0,
      totals: {
        posts: 0,
        failedPosts: 0,
        notificationsDelivered: 0,
        notificationsDropped: 0,
        lifecycleDelivered: 0,
        validationRequests: 0,
      },
    };
    return { settings: { ...store.settings }, ...st };
  };

  route('GET', '/subscriptions', (req) => {
    const value = store.list().map((s) => subscriptionDto(ctx, s));
    if (req.query.includeEnded === 'true') value.push(...store.ended.map((s) => subscriptionDto(ctx, s)));
    return value;
  });
  route('DELETE', '/subscriptions', () => {
    const removed = store.active.size;
    store.clear();
    ctx.notifications?.clearQueues();
    return { removed };
  });
  route('GET', '/subscriptions/:id', (req) => subscriptionDto(ctx, find(req.params.id as string)));
  route('POST', '/subscriptions/:id/lifecycle', (req) => {
    const s = live(req.params.id as string);
    const event = (req.body?.event ?? 'reauthorizationRequired') as LifecycleEvent;
    if (!EVENTS.has(event))
      throw new SandboxError(400, 'BadRequest', `event must be one of ${[...EVENTS].join(', ')}`);
    if (event === 'subscriptionRemoved') store.end(s, 'removed');
    const sent = ctx.notifications?.lifecycle(s, event) ?? false;
    return { sent, subscription: subscriptionDto(ctx, s) };
  });
  route('POST', '/subscriptions/:id/expire', (req) => {
    const s = live(req.params.id as string);
    s.expiresAt = Date.now() - 1;
    store.end(s, 'expired');
    return subscriptionDto(ctx, s);
  });
  route('DELETE', '/subscriptions/:id', (req) => {
    const s = live(req.params.id as string);
    store.end(s, 'removed');
    const sent =
      req.query.notify === 'true' ? (ctx.notifications?.lifecycle(s, 'subscriptionRemoved') ?? false) : false;
    return { sent, subscription: subscriptionDto(ctx, s) };
  });

  route('GET', '/notifications', () => status());
  route('PATCH', '/notifications/settings', (req) => {
    applySettings(store.settings, req.body ?? {});
    return { ...store.settings };
  });
  route('POST', '/notifications/settings/reset', () => {
    if (ctx.initialNotificationSettings) Object.assign(store.settings, ctx.initialNotificationSettings);
    return { ...store.settings };
  });
}
