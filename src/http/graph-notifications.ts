import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import {
  LIFECYCLE_PATH,
  NOTIFICATION_PATH,
  receiveLifecycle,
  receiveNotifications,
} from '../app/change-notifications.js';
import type { Store } from '../app/ports/store.port.js';
import { type AppServices, changeNotificationDeps } from '../app/services.js';
import type { Logger } from '../logger.js';

/** Graph wants 2xx within 3 s (change-notifications-delivery-webhooks); answer by 2.5 s whatever happens. */
const ANSWER_WITHIN_MS = 2500;

/**
 * The subscription validation token comes form-encoded ('+' for a space), so read it with
 * URLSearchParams from the raw query, not with decodeURIComponent.
 */
function validationToken(request: FastifyRequest): string | null {
  const query = request.raw.url?.split('?')[1] ?? '';
  return new URLSearchParams(query).get('validationToken');
}

/**
 * Where Microsoft Graph posts change and lifecycle notifications (T2). Not behind an API
 * key: each notification proves itself with its subscription's clientState.
 */
export function registerGraphNotifications(
  app: FastifyInstance,
  deps: { services: AppServices; openStore: () => Store; logger: Logger },
) {
  const handle =
    (work: (body: unknown) => Promise<unknown>) => async (request: FastifyRequest, reply: FastifyReply) => {
      const token = validationToken(request);
      if (token !== null) {
        // The subscription handshake: echo the token, as plain text, at once.
        return reply.code(200).header('content-type', 'text/plain; charset=utf-8').send(token);
      }
      const done = work(request.body).then(
        () => 'done' as const,
        (err: Error) => {
          deps.logger.error({ err: err.message, path: request.url }, 'processing Graph notifications failed');
          return 'failed' as const;
        },
      );
      const outcome = await Promise.race([
        done,
        new Promise((r) => setTimeout(() => r('late'), ANSWER_WITHIN_MS)),
      ]);
      // A failure here is ours (database or Redis down): 503 makes Graph deliver it again later.
      if (outcome === 'failed') return reply.code(503).send();
      return reply.code(202).send();
    };
  app.post(
    NOTIFICATION_PATH,
    handle((body) => receiveNotifications(changeNotificationDeps(deps.services, deps.openStore()), body)),
  );
  app.post(
    LIFECYCLE_PATH,
    handle((body) => receiveLifecycle(changeNotificationDeps(deps.services, deps.openStore()), body)),
  );
}
