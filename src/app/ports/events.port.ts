/** Publishes events for subscriptions (Redis-backed, so every gateway process sees them). */
export interface EventPublisher {
  publish(topic: string, payload: unknown): void;
  /** Every event published on `topic` from now on, by any process. */
  subscribe(topic: string): AsyncIterable<unknown>;
}
