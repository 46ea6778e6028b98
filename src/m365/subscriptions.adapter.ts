import type { Client } from '@microsoft/microsoft-graph-client';
import type { GraphSubscriptionInfo, SubscriptionsClient } from '../app/ports/change-notifications.port.js';
import type { MicrosoftAppCredentials } from '../app/ports/microsoft.port.js';
import { graphError } from './errors.js';

interface GraphSubscriptionJson {
  id: string;
  resource: string;
  expirationDateTime: string;
}

const toInfo = (s: GraphSubscriptionJson): GraphSubscriptionInfo => ({
  id: s.id,
  resource: s.resource,
  expirationDateTime: new Date(s.expirationDateTime),
});

/**
 * Graph change-notification subscriptions (https://learn.microsoft.com/graph/api/subscription-post-subscriptions,
 * subscription-update, subscription-reauthorize, subscription-delete), as the app.
 */
export class GraphSubscriptionsClient implements SubscriptionsClient {
  constructor(private readonly graphAsApp: (app: MicrosoftAppCredentials) => Client) {}

  async create(
    app: MicrosoftAppCredentials,
    request: {
      resource: string;
      changeType: string;
      notificationUrl: string;
      lifecycleNotificationUrl: string;
      clientState: string;
      expirationDateTime: Date;
    },
  ) {
    try {
      const created = (await this.graphAsApp(app)
        .api('/subscriptions')
        .post({
          ...request,
          expirationDateTime: request.expirationDateTime.toISOString(),
        })) as GraphSubscriptionJson;
      return toInfo(created);
    } catch (err) {
      throw graphError(err);
    }
  }

  async renew(app: MicrosoftAppCredentials, id: string, expirationDateTime: Date) {
    try {
      const renewed = (await this.graphAsApp(app)
        .api(`/subscriptions/${encodeURIComponent(id)}`)
        .patch({ expirationDateTime: expirationDateTime.toISOString() })) as GraphSubscriptionJson;
      return toInfo(renewed);
    } catch (err) {
      throw graphError(err);
    }
  }

  async reauthorize(app: MicrosoftAppCredentials, id: string) {
    try {
      await this.graphAsApp(app)
        .api(`/subscriptions/${encodeURIComponent(id)}/reauthorize`)
        .post({});
    } catch (err) {
      throw graphError(err);
    }
  }

  async remove(app: MicrosoftAppCredentials, id: string) {
    try {
      await this.graphAsApp(app)
        .api(`/subscriptions/${encodeURIComponent(id)}`)
        .delete();
    } catch (err) {
      const e = graphError(err);
      if (e.code !== 'NOT_FOUND') throw e;
    }
  }
}
