import type { JobName } from '../contracts.js';
import type { Processor } from '../worker.js';

/** Proves the path producer → Redis → worker → result. */
export const pingProcessor: Processor<typeof JobName.Ping> = async (payload) => ({
  pong: payload.message,
  at: new Date().toISOString(),
});
