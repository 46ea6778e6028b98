/** Event topics, one place. Every topic is scoped to one PBX. */
export const Topic = {
  integrationChanged: (pbxId: string) => `integration-changed:${pbxId}`,
} as const;

/** Publishes events for subscriptions (Redis-backed, so every gateway process sees them). */
export interface EventPublisher {
  publish(topic: string, payload: unknown): void;
}
