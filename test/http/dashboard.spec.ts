import { appRoutes } from '@bull-board/api/dist/routes.js';
import { describe, expect, it } from 'vitest';
import { jobBelongsTo, mayChangeJob, payloadPbxId } from '../../src/app/jobs-admin.js';
import { ApiRole } from '../../src/domain/access.js';
import {
  classifyBoardRoute,
  filterBoardAnswer,
  hideJobContent,
  loginPage,
} from '../../src/http/dashboard.js';

const PBX = 'pbx-a';
const OTHER = 'pbx-b';

describe('job dashboard rules: job ownership, route classes, hidden content', () => {
  it('reads the PBX of a job from its payload; a job without one is the system', () => {
    expect(payloadPbxId({ pbxId: PBX, other: 1 })).toBe(PBX);
    for (const data of [{}, null, undefined, 'x', { pbxId: 7 }, { pbxId: '' }])
      expect(payloadPbxId(data)).toBeNull();
    expect(jobBelongsTo({ pbxId: PBX }, PBX)).toBe(true);
    expect(jobBelongsTo({ pbxId: OTHER }, PBX)).toBe(false);
    expect(jobBelongsTo({ pbxId: null }, PBX)).toBe(false);
  });

  it('lets only an ADMIN change a job, and only its own PBX job', () => {
    expect(mayChangeJob({ role: ApiRole.ADMIN, pbxId: PBX }, { pbxId: PBX })).toBe(true);
    expect(mayChangeJob({ role: ApiRole.ADMIN, pbxId: PBX }, { pbxId: OTHER })).toBe(false);
    expect(mayChangeJob({ role: ApiRole.ADMIN, pbxId: PBX }, { pbxId: null })).toBe(false);
    expect(mayChangeJob({ role: ApiRole.VIEWER, pbxId: PBX }, { pbxId: PBX })).toBe(false);
    expect(mayChangeJob({ role: ApiRole.LINKUS, pbxId: PBX }, { pbxId: PBX })).toBe(false);
  });

  it('classifies every route of this bull-board: reads open, per-job changes own-only, the rest refused', () => {
    const table = Object.fromEntries(
      appRoutes.api.flatMap((r) =>
        [r.route]
          .flat()
          .flatMap((route) => [r.method].flat().map((m) => [`${m} ${route}`, classifyBoardRoute(m, route)])),
      ),
    );
    expect(table).toEqual({
      'get /api/redis/stats': 'refused',
      'get /api/queues': 'read',
      'get /api/job-schedulers': 'read',
      'get /api/queues/:queueName/metrics': 'read',
      'get /api/queues/:queueName/default-job-options': 'read',
      'get /api/queues/:queueName/workers': 'refused',
      'get /api/queues/:queueName/rate-limit': 'read',
      'get /api/queues/:queueName/job-data-schema': 'read',
      'put /api/queues/pause': 'refused',
      'put /api/queues/resume': 'refused',
      'get /api/queues/:queueName/:jobId/logs': 'read-own-job',
      'get /api/queues/:queueName/:jobId/flow': 'read-own-job',
      'get /api/queues/:queueName/:jobId': 'read',
      'post /api/queues/:queueName/add': 'refused',
      'put /api/queues/:queueName/retry/:queueStatus': 'refused',
      'put /api/queues/:queueName/promote': 'refused',
      'put /api/queues/:queueName/clean/:queueStatus': 'refused',
      'put /api/queues/:queueName/pause': 'refused',
      'put /api/queues/:queueName/resume': 'refused',
      'put /api/queues/:queueName/concurrency': 'refused',
      'put /api/queues/:queueName/rate-limit': 'refused',
      'put /api/queues/:queueName/rate-limit/release': 'refused',
      'put /api/queues/:queueName/empty': 'refused',
      'put /api/queues/:queueName/obliterate': 'refused',
      'put /api/queues/:queueName/job-schedulers/:schedulerId/remove': 'refused',
      'patch /api/queues/:queueName/job-schedulers/:schedulerId': 'refused',
      'put /api/queues/:queueName/job-schedulers/:schedulerId/run': 'refused',
      'put /api/queues/:queueName/:jobId/retry': 'change-own-job',
      'put /api/queues/:queueName/:jobId/clean': 'change-own-job',
      'put /api/queues/:queueName/:jobId/promote': 'refused',
      'patch /api/queues/:queueName/:jobId/update-data': 'refused',
      'patch /api/queues/:queueName/:jobId/delay': 'refused',
      'patch /api/queues/:queueName/:jobId/priority': 'refused',
      'put /api/queues/:queueName/:jobId/remove-unprocessed-children': 'refused',
    });
    expect(classifyBoardRoute('get', '/api/some-future-route')).toBe('refused');
  });

  it("hides another PBX's (and the system's) job content, and every stack trace", () => {
    const job = {
      id: '1',
      name: 'sync',
      data: { pbxId: OTHER, note: 'x' },
      returnValue: { created: 3 },
      failedReason: 'user alice@contoso.com: bad number',
      stacktrace: ['at x (/srv/app.ts:1)'],
      progress: { phase: 'APPLYING' },
      timestamp: 1,
      opts: { jobId: `schedule-${OTHER}-2026-12-07T00:30`, delay: 60_000 },
      delay: 60_000,
    };
    const hidden = hideJobContent(job, PBX);
    // Not even its id, options or delay: they name the other PBX, its runs and its schedule.
    expect(hidden.id).toMatch(/^hidden-[0-9a-f]{12}$/);
    expect(hidden.id).toBe(hideJobContent(job, PBX).id);
    expect(hideJobContent({ ...job, id: '2' }, PBX).id).not.toBe(hidden.id);
    expect(JSON.stringify(hidden)).not.toContain(OTHER);
    expect(hidden).toEqual({
      id: hidden.id,
      name: 'sync',
      opts: {},
      delay: 0,
      data: {},
      returnValue: null,
      failedReason: 'hidden: this job is not of your PBX',
      stacktrace: [],
      progress: 0,
      timestamp: 1,
    });
    expect(hideJobContent({ ...job, data: {} }, PBX).returnValue).toBeNull();
    expect(hideJobContent(job, OTHER)).toEqual({ ...job, stacktrace: [] });
  });

  it('filters bull-board answers: job lists, one job, scheduler templates; a VIEWER board is read-only', () => {
    const own = { id: '1', data: { pbxId: PBX }, failedReason: 'mine' };
    const foreign = { id: '2', data: { pbxId: OTHER }, failedReason: 'theirs' };
    const queues = {
      queues: [{ name: 'system', jobs: [own, foreign], readOnlyMode: false, allowRetries: true }],
    };
    const forAdmin = filterBoardAnswer('/api/queues', queues, {
      pbxId: PBX,
      role: ApiRole.ADMIN,
    }) as typeof queues;
    expect(forAdmin.queues[0]).toMatchObject({ readOnlyMode: false, allowRetries: true });
    expect(forAdmin.queues[0].jobs.map((j) => j.failedReason)).toEqual([
      'mine',
      'hidden: this job is not of your PBX',
    ]);
    const forViewer = filterBoardAnswer('/api/queues', queues, {
      pbxId: PBX,
      role: ApiRole.VIEWER,
    }) as typeof queues;
    expect(forViewer.queues[0]).toMatchObject({
      readOnlyMode: true,
      allowRetries: false,
      allowCompletedRetries: false,
    });

    const one = filterBoardAnswer(
      '/api/queues/:queueName/:jobId',
      { job: foreign, status: 'failed' },
      {
        pbxId: PBX,
        role: ApiRole.ADMIN,
      },
    ) as { job: { data: unknown }; status: string };
    expect(one).toMatchObject({ job: { data: {} }, status: 'failed' });

    const schedulers = {
      schedulers: [
        { id: 's1', template: { data: { pbxId: OTHER }, opts: { attempts: 1 } } },
        { id: 's2', template: { data: { pbxId: PBX } } },
        { id: 's3' },
      ],
    };
    expect(
      filterBoardAnswer('/api/job-schedulers', schedulers, { pbxId: PBX, role: ApiRole.VIEWER }),
    ).toEqual({
      schedulers: [
        { id: 's1', template: { data: {}, opts: { attempts: 1 } } },
        { id: 's2', template: { data: { pbxId: PBX } } },
        { id: 's3' },
      ],
    });
    expect(
      filterBoardAnswer('/api/queues/:queueName/metrics', { a: 1 }, { pbxId: PBX, role: ApiRole.VIEWER }),
    ).toEqual({
      a: 1,
    });
  });

  it('renders the login form with an escaped error, posting to /admin/login', () => {
    const html = loginPage('<script>alert(1)</script>');
    expect(html).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(html).not.toContain('<script>');
    expect(html).toContain('<form method="post" action="/admin/login"');
    expect(loginPage()).not.toContain('login-error');
  });
});
