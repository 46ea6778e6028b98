import type { PresenceSubscriptionsClient } from '../app/ports/presence.port.js';
import { graphError } from './errors.js';
import { createGraphClient, type MicrosoftEndpoints } from './microsoft-clients.js';

/**
 * Presence subscriptions (issue 15 item 2), made with the authorization account's delegated token:
 * "Application: Not supported", delegated Presence.Read.All only, at most 650 ids in
 * `communications/presences?$filter=id in ('…')`, at most an hour, one per user per app
 * (https://learn.microsoft.com/graph/changenotifications-for-presence,
 * https://learn.microsoft.com/graph/api/subscription-post-subscriptions). Basic notifications
 * (no `includeResourceData`): they name the user, and the gateway reads the presence.
 */
export class GraphPresenceSubscriptions implements PresenceSubscriptionsClient {
  constructor(private readonly endpoints: MicrosoftEndpoints) {}

  private client(token: string) {
    return createGraphClient(this.endpoints, async () => token);
  }

  async create(
    token: string,
    request: {
      userIds: readonly string[];
      notificationUrl: string;
      lifecycleNotificationUrl: string;
      clientState: string;
      expirationDateTime: Date;
    },
  ) {
    try {
      const created = (await this.client(token)
        .api('/subscriptions')
        .post({
          changeType: 'updated',
          resource: `/communications/presences?$filter=id in (${request.userIds.map((id) => `'${id}'`).join(',')})`,
          notificationUrl: request.notificationUrl,
          lifecycleNotificationUrl: request.lifecycleNotificationUrl,
          clientState: request.clientState,
          expirationDateTime: request.expirationDateTime.toISOString(),
        })) as { id: string; expirationDateTime: string };
      return { id: created.id, expirationDateTime: new Date(created.expirationDateTime) };
    } catch (err) {
      throw graphError(err);
    }
  }

  async renew(token: string, id: string, expirationDateTime: Date) {
    try {
      const renewed = (await this.client(token)
        .api(`/subscriptions/${encodeURIComponent(id)}`)
        .patch({ expirationDateTime: expirationDateTime.toISOString() })) as { expirationDateTime: string };
      return { expirationDateTime: new Date(renewed.expirationDateTime) };
    } catch (err) {
      throw graphError(err);
    }
  }

  async remove(token: string, id: string) {
    try {
      await this.client(token)
        .api(`/subscriptions/${encodeURIComponent(id)}`)
        .delete();
    } catch (err) {
      const e = graphError(err);
      if (e.code !== 'NOT_FOUND') throw e;
    }
  }
}
