/**
 * The port behind the job dashboard and the queue queries (issue 6 item 5). `jobs/`
 * implements `JobAdmin` over BullMQ.
 */

export interface QueueCounts {
  waiting: number;
  active: number;
  delayed: number;
  completed: number;
  failed: number;
}

export interface QueueSummary {
  name: string;
  counts: QueueCounts;
}

/** One job, as the queue holds it: no payload beyond the PBX it is for. */
export interface JobInfo {
  id: string;
  queue: string;
  name: string;
  /** The `pbxId` of the job's payload; null for a job of the whole system (e.g. the daily secret check). */
  pbxId: string | null;
  /** BullMQ's state: waiting, active, delayed, completed, failed, prioritized, waiting-children, unknown. */
  state: string;
  failedReason: string | null;
  attemptsMade: number;
  createdAt: Date;
  processedAt: Date | null;
  finishedAt: Date | null;
}

/** The queues, read and (one failed job at a time) retried. Queues are shared by every PBX. */
export interface JobAdmin {
  queueNames(): string[];
  counts(): Promise<QueueSummary[]>;
  /** Failed jobs of one queue, newest first, `offset` .. `offset + limit - 1`. */
  failed(queue: string, offset: number, limit: number): Promise<JobInfo[]>;
  get(queue: string, id: string): Promise<JobInfo | null>;
  /** Moves a failed job back to waiting; rejects when it is not failed (any more). */
  retry(queue: string, id: string): Promise<void>;
}
