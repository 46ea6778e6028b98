import { randomBytes } from 'node:crypto';
import { ApiRole, administers, type Caller } from '../domain/access.js';
import { authenticate, hashApiKey } from './access.js';
import { AppError } from './errors.js';
import type { DashboardSession, DashboardSessionStore } from './ports/dashboard-session.port.js';
import type { JobAdmin, JobInfo, QueueSummary } from './ports/jobs.port.js';
import type { Store } from './ports/store.port.js';

/**
 * The job dashboard and the queue queries (issue 6 item 5).
 *
 * Tenancy: queues are shared by every PBX; a job belongs to the PBX its payload names
 * (`pbxId`), and a job without one belongs to the system. A key of one PBX sees the queue
 * names and their counts (totals over every PBX, no job content), lists and retries only
 * its own PBX's jobs, and sees other jobs only as ids, names, states and times.
 */

/** The roles that may open the dashboard and read the queues. */
export const DASHBOARD_ROLES: readonly ApiRole[] = [ApiRole.ADMIN, ApiRole.VIEWER];
/** A dashboard session lasts this long from login (not sliding). */
export const DASHBOARD_SESSION_TTL_SECONDS = 8 * 3600;
/** failedJobs(first) bounds. */
export const FAILED_JOBS_MAX = 100;
/** How far back failedJobs looks for the caller's jobs (the queues keep at most 5000 failed jobs). */
const FAILED_SCAN_LIMIT = 5000;
const FAILED_SCAN_PAGE = 250;

/** The PBX a job's payload is for: its `pbxId`, when it has one; else null (a job of the system). */
export function payloadPbxId(data: unknown): string | null {
  if (data && typeof data === 'object' && 'pbxId' in data) {
    const id = (data as { pbxId: unknown }).pbxId;
    return typeof id === 'string' && id ? id : null;
  }
  return null;
}

export function jobBelongsTo(job: Pick<JobInfo, 'pbxId'>, pbxId: string): boolean {
  return job.pbxId !== null && job.pbxId === pbxId;
}

/** Only an ADMIN (or an operator acting on the PBX) changes a job, and only a job of that PBX. */
export function mayChangeJob(caller: Pick<Caller, 'role' | 'pbxId'>, job: Pick<JobInfo, 'pbxId'>): boolean {
  return administers(caller) && jobBelongsTo(job, caller.pbxId);
}

function assertQueue(jobs: JobAdmin, queue: string) {
  if (!jobs.queueNames().includes(queue)) {
    throw AppError.invalidInput([
      { field: 'queue', message: `unknown queue; one of: ${jobs.queueNames().join(', ')}` },
    ]);
  }
}

/** Every queue with its counts (over all PBXs: the counts carry no job content). */
export function listQueues(jobs: JobAdmin): Promise<QueueSummary[]> {
  return jobs.counts();
}

/** The caller's PBX's failed jobs of one queue, newest first. */
export async function listFailedJobs(
  jobs: JobAdmin,
  caller: Caller,
  queue: string,
  first: number,
): Promise<JobInfo[]> {
  assertQueue(jobs, queue);
  if (!Number.isInteger(first) || first < 1 || first > FAILED_JOBS_MAX) {
    throw AppError.invalidInput([{ field: 'first', message: `must be 1 to ${FAILED_JOBS_MAX}` }]);
  }
  const found: JobInfo[] = [];
  for (let offset = 0; offset < FAILED_SCAN_LIMIT && found.length < first; offset += FAILED_SCAN_PAGE) {
    const page = await jobs.failed(queue, offset, FAILED_SCAN_PAGE);
    for (const job of page) if (jobBelongsTo(job, caller.pbxId)) found.push(job);
    if (page.length < FAILED_SCAN_PAGE) break;
  }
  return found.slice(0, first);
}

/** Retries one failed job of the caller's PBX. Another PBX's job, or the system's, is NOT_FOUND. */
export async function retryFailedJob(
  jobs: JobAdmin,
  caller: Caller,
  queue: string,
  id: string,
): Promise<JobInfo> {
  if (!administers(caller)) throw new AppError('FORBIDDEN', 'Only an ADMIN key may retry a job.');
  assertQueue(jobs, queue);
  const job = await jobs.get(queue, id);
  if (!job || !mayChangeJob(caller, job)) {
    throw new AppError('NOT_FOUND', `No job ${id} of your PBX in queue ${queue}`, { field: 'id' });
  }
  if (job.state !== 'failed') {
    throw new AppError('INVALID_STATE', `Job ${id} is ${job.state}; only a failed job can be retried`, {
      field: 'id',
    });
  }
  try {
    await jobs.retry(queue, id);
  } catch {
    const now = await jobs.get(queue, id);
    throw new AppError('INVALID_STATE', `Job ${id} could not be retried (it is ${now?.state ?? 'gone'})`, {
      field: 'id',
    });
  }
  return (await jobs.get(queue, id)) ?? { ...job, state: 'waiting' };
}

// --- dashboard sessions -------------------------------------------------------------------------

export interface DashboardDeps {
  store: Store;
  sessions: DashboardSessionStore;
  now: () => Date;
}

export type DashboardLogin =
  | { ok: true; sessionId: string; session: DashboardSession }
  | { ok: false; code: 'UNAUTHENTICATED' | 'FORBIDDEN'; message: string };

const SESSION_ID = /^[A-Za-z0-9_-]{43}$/;

/**
 * Checks a key typed into the dashboard's login form and opens a session for it. The
 * session id is 256 random bits; the session holds the PBX, role and key id, never the key.
 */
export async function startDashboardSession(deps: DashboardDeps, key: string): Promise<DashboardLogin> {
  const caller = await authenticate(deps.store, key.trim());
  if (!caller) return { ok: false, code: 'UNAUTHENTICATED', message: 'This key is unknown or revoked.' };
  if (!DASHBOARD_ROLES.includes(caller.role) || caller.pbxId === null) {
    return {
      ok: false,
      code: 'FORBIDDEN',
      message: `The dashboard needs an ADMIN or VIEWER key; this key has ${caller.role}.`,
    };
  }
  const session: DashboardSession = {
    pbxId: caller.pbxId,
    role: caller.role,
    keyId: caller.keyId,
    keyHash: hashApiKey(key.trim()),
    createdAt: deps.now().toISOString(),
  };
  const sessionId = randomBytes(32).toString('base64url');
  await deps.sessions.put(sessionId, session, DASHBOARD_SESSION_TTL_SECONDS);
  return { ok: true, sessionId, session };
}

/** The session behind a cookie value, or null; a session whose key was revoked is ended. */
export async function resumeDashboardSession(
  deps: DashboardDeps,
  sessionId: string | undefined | null,
): Promise<DashboardSession | null> {
  if (!sessionId || !SESSION_ID.test(sessionId)) return null;
  const session = await deps.sessions.get(sessionId);
  if (!session) return null;
  const key = await deps.store.tenants.findActiveKeyByHash(session.keyHash);
  if (!key || key.id !== session.keyId || key.pbxId !== session.pbxId || key.role !== session.role) {
    await deps.sessions.delete(sessionId);
    return null;
  }
  return session;
}

export async function endDashboardSession(
  deps: Pick<DashboardDeps, 'sessions'>,
  sessionId: string | undefined,
) {
  if (sessionId && SESSION_ID.test(sessionId)) await deps.sessions.delete(sessionId);
}
