import type { ApiRole } from '../../domain/access.js';

/** Sessions of the job dashboard (issue 6 item 5), kept in Redis (src/redis). */

/** What a dashboard session remembers. Never the key itself. */
export interface DashboardSession {
  pbxId: string;
  role: ApiRole;
  keyId: string;
  /** The key's lookup hash (as stored in the database), to end the session when the key is revoked. */
  keyHash: string;
  createdAt: string;
}

/** Server-side dashboard sessions with a time to live, keyed by an opaque id. */
export interface DashboardSessionStore {
  put(sessionId: string, session: DashboardSession, ttlSeconds: number): Promise<void>;
  get(sessionId: string): Promise<DashboardSession | null>;
  delete(sessionId: string): Promise<void>;
}
