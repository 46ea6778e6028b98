import { GraphError } from '@microsoft/microsoft-graph-client';
import type {
  ContactFolderInfo,
  ContactsReader,
  FolderProbe,
  ProbeAnswer,
} from '../app/ports/contact-sync.port.js';
import type { DirectoryStream } from '../app/ports/directory.port.js';
import { MicrosoftError } from '../app/ports/microsoft.port.js';
import type { ContactDeltaRecord, OutlookContact } from '../domain/contact-sync.planner.js';
import {
  asPage,
  type GraphObject,
  type GraphPage,
  pageFetcher,
  readerError,
  retryAfterMs,
  versionRelative,
} from './graph-paging.js';
import {
  countTraffic,
  createCountingGraphClient,
  type GraphTraffic,
  THROTTLE_STATUSES,
} from './graph-transport.js';
import type { MicrosoftEndpoints } from './microsoft-clients.js';

/**
 * Outlook contacts with the authorization account's delegated token (Contacts.Read.Shared),
 * as Microsoft documents them:
 * - a folder shared with the account, or a shared mailbox it is a member of, is read under
 *   `/users/{mailbox}/…` (https://learn.microsoft.com/graph/outlook-get-shared-contacts-folders);
 * - `GET /users/{id}/contactFolders/contacts` is the default Contacts folder (well-known name),
 *   `GET /users/{id}/contactFolders` its child folders (api/user-list-contactfolders);
 * - `GET …/contactFolders/{id}/contacts/delta` (api/contact-delta): nextLink pages, then a
 *   deltaLink; removed contacts as `@removed`; pages of at most 200 (`Prefer:
 *   odata.maxpagesize=200`, Microsoft's cap for contacts);
 * - 403 `ErrorAccessDenied`: not shared (any more) with the account → `ACCESS_DENIED`;
 *   404 `MailboxNotEnabledForRESTAPI` (or `MailboxNotSupportedForRESTAPI`): the user has no
 *   Exchange Online mailbox (no licence), or it is inactive, soft-deleted or on-premises
 *   (https://learn.microsoft.com/exchange/troubleshoot/user-and-shared-mailboxes/rest-api-is-not-yet-supported-for-this-mailbox-error)
 *   → `NO_MAILBOX`;
 *   410 Gone / `SyncStateNotFound` → `DELTA_EXPIRED` (read the folder in full again);
 *   429 (MailboxConcurrency, or the 10,000 requests / 10 min of a mailbox) is retried by
 *   graph-client's RetryHandler, which honours Retry-After.
 * A mailbox job reads one folder at a time, one page at a time (one request in flight per
 * mailbox: under Outlook's 4 concurrent requests per mailbox).
 *
 * A run's probe (`probe`) goes through JSON batching (https://learn.microsoft.com/graph/json-batching):
 * 20 sub-requests a `POST /$batch`, `PROBE_CONCURRENCY` batches in flight. Outlook counts and
 * throttles each sub-request as a request to its mailbox
 * (https://learn.microsoft.com/graph/throttling-limits#outlook-service-limits), and a throttled
 * sub-request comes back as a 429 item with its own `Retry-After` inside a 200 envelope, which the
 * SDK does not retry (https://learn.microsoft.com/graph/throttling#throttling-and-batching): the
 * throttled items are sent again here, in a later batch, once the longest `Retry-After` among
 * them has passed. A mailbox's probes go in one batch (`batchesByMailbox`): items of a batch run in
 * parallel on Graph, so a mailbox with more than 4 folders may see some of its probes throttled
 * (MailboxConcurrency), and those are sent again like any other.
 */
/** `$batch` requests of a probe in flight at once. */
export const PROBE_CONCURRENCY = 4;
/** Rounds in which a probe was throttled before it is given up as THROTTLED (the mailbox job tries again). */
const PROBE_ATTEMPTS = 8;
const MAX_BATCH = 20;

interface BatchItemAnswer {
  id: string;
  status: number;
  headers?: Record<string, string>;
  body?: unknown;
}

function headerOf(headers: Record<string, string> | undefined, name: string): string | undefined {
  for (const [k, v] of Object.entries(headers ?? {})) if (k.toLowerCase() === name) return String(v);
  return undefined;
}

/**
 * Probes in batches of 20, a mailbox's probes never split over two batches (when they fit in
 * one): batches run side by side, and Outlook allows 4 requests in flight per mailbox.
 */
export function batchesByMailbox(indices: readonly number[], mailboxOf: (i: number) => string): number[][] {
  const out: number[][] = [];
  let current: number[] = [];
  for (let n = 0; n < indices.length; ) {
    const box = mailboxOf(indices[n] as number);
    let end = n;
    while (end < indices.length && mailboxOf(indices[end] as number) === box) end++;
    const group = indices.slice(n, end);
    if (current.length + group.length > MAX_BATCH && current.length > 0) {
      out.push(current);
      current = [];
    }
    for (const i of group) {
      current.push(i);
      if (current.length === MAX_BATCH) {
        out.push(current);
        current = [];
      }
    }
    n = end;
  }
  if (current.length) out.push(current);
  return out;
}

/** A failed sub-request as the reader's errors (`contactsError`). */
function itemError(answer: BatchItemAnswer): MicrosoftError {
  const body = (answer.body ?? {}) as { error?: { code?: string; message?: string } };
  const e = new GraphError(answer.status, body.error?.message ?? `batch item answered ${answer.status}`);
  e.code = body.error?.code ?? null;
  // As a request's failure would be: 403 ACCESS_DENIED, 404 MailboxNotEnabledForRESTAPI NO_MAILBOX, ...
  const mapped = contactsError(e);
  return new MicrosoftError(
    mapped.code,
    mapped.message,
    retryAfterMs(headerOf(answer.headers, 'retry-after')),
  );
}
const CONTACT_SELECT = [
  'id',
  'changeKey',
  'givenName',
  'surname',
  'displayName',
  'companyName',
  'jobTitle',
  'mobilePhone',
  'homePhones',
  'businessPhones',
  'emailAddresses',
].join(',');
const PAGE_HEADERS = { Prefer: 'odata.maxpagesize=200' };
/** A folder's delta round from the start (a full read). */
const firstDeltaUrl = (mailboxId: string, folderId: string) =>
  `/users/${encodeURIComponent(mailboxId)}/contactFolders/${encodeURIComponent(folderId)}/contacts/delta?$select=${CONTACT_SELECT}`;

function str(v: unknown): string | null {
  return typeof v === 'string' ? v : null;
}
function strs(v: unknown): string[] {
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
}

/** Graph's `contact` as a domain record (never raw JSON past this file). */
export function outlookContact(o: GraphObject): OutlookContact {
  const emails = Array.isArray(o.emailAddresses)
    ? (o.emailAddresses as Array<{ address?: unknown }>)
        .map((e) => str(e?.address))
        .filter((e): e is string => !!e)
    : [];
  return {
    id: String(o.id),
    changeKey: str(o.changeKey),
    givenName: str(o.givenName),
    surname: str(o.surname),
    displayName: str(o.displayName),
    companyName: str(o.companyName),
    jobTitle: str(o.jobTitle),
    mobilePhone: str(o.mobilePhone),
    homePhones: strs(o.homePhones),
    businessPhones: strs(o.businessPhones),
    emailAddresses: emails,
  };
}

export function contactDeltaRecord(o: GraphObject): ContactDeltaRecord {
  return o['@removed']
    ? { kind: 'REMOVED', id: String(o.id) }
    : { kind: 'CHANGED', contact: outlookContact(o) };
}

/** 403 ErrorAccessDenied from Outlook is ACCESS_DENIED (not a missing consent of the app); a user without a mailbox NO_MAILBOX. */
export function contactsError(err: unknown): MicrosoftError {
  const mapped = readerError(err);
  const e = err as { statusCode?: number; code?: string };
  if (e?.statusCode === 404 && /^MailboxNot(Enabled|Supported)ForRESTAPI$/i.test(e.code ?? '')) {
    return new MicrosoftError('NO_MAILBOX', mapped.message);
  }
  if (e?.statusCode === 403 || /ErrorAccessDenied/i.test(mapped.message)) {
    return new MicrosoftError('ACCESS_DENIED', mapped.message);
  }
  return mapped;
}

export class GraphContactsReader implements ContactsReader {
  private readonly traffic: GraphTraffic = { requests: 0, throttled: 0 };

  constructor(
    private readonly endpoints: MicrosoftEndpoints,
    private readonly options: { maxRetries?: number; retryDelaySeconds?: number } = {},
  ) {}

  private fetcher(accessToken: string) {
    const client = createCountingGraphClient(
      this.endpoints,
      async () => accessToken,
      this.traffic,
      this.options,
    );
    return { client, fetchPage: pageFetcher(client, PAGE_HEADERS, contactsError) };
  }

  async listFolders(accessToken: string, mailboxId: string): Promise<ContactFolderInfo[]> {
    const { client, fetchPage } = this.fetcher(accessToken);
    const box = encodeURIComponent(mailboxId);
    let root: GraphObject;
    try {
      root = (await client
        .api(`/users/${box}/contactFolders/contacts`)
        .select('id,displayName')
        .get()) as GraphObject;
    } catch (err) {
      throw contactsError(err);
    }
    const folders: ContactFolderInfo[] = [
      { id: String(root.id), displayName: str(root.displayName) ?? 'Contacts' },
    ];
    // Child folders: those the account cannot read are left out (their owner did not share them).
    try {
      let url: string | undefined = `/users/${box}/contactFolders?$select=id,displayName&$top=100`;
      while (url) {
        const page: GraphPage = await fetchPage(url);
        for (const f of page.value) folders.push({ id: String(f.id), displayName: str(f.displayName) ?? '' });
        url = page.nextLink;
      }
    } catch (err) {
      if (!(err instanceof MicrosoftError && ['ACCESS_DENIED', 'NOT_FOUND'].includes(err.code))) throw err;
    }
    return folders;
  }

  async probe(accessToken: string, probes: readonly FolderProbe[]): Promise<ProbeAnswer[]> {
    const { client } = this.fetcher(accessToken);
    const base = this.endpoints.graphBaseUrl;
    const answers: Array<ProbeAnswer | undefined> = new Array(probes.length);
    const urlOf = (p: FolderProbe) => {
      const box = encodeURIComponent(p.mailboxId);
      if (p.kind === 'DELTA')
        return p.deltaLink === null
          ? firstDeltaUrl(p.mailboxId, p.folderId)
          : versionRelative(p.deltaLink, base);
      if (p.kind === 'ROOT') return `/users/${box}/contactFolders/contacts?$select=id,displayName`;
      return `/users/${box}/contactFolders?$select=id,displayName&$top=100`;
    };
    let pending = probes.map((_, i) => i);
    for (let round = 1; pending.length > 0; round++) {
      const again: number[] = [];
      let waitMs = 0;
      const chunks = batchesByMailbox(pending, (i) => (probes[i] as FolderProbe).mailboxId);
      const send = async (chunk: number[]) => {
        const body = {
          requests: chunk.map((i) => ({
            id: String(i),
            method: 'GET',
            url: urlOf(probes[i] as FolderProbe),
            headers: PAGE_HEADERS,
          })),
        };
        let res: { responses?: BatchItemAnswer[] };
        try {
          res = (await client.api('/$batch').post(body)) as { responses?: BatchItemAnswer[] };
        } catch (err) {
          throw contactsError(err);
        }
        const byId = new Map((res.responses ?? []).map((r) => [String(r.id), r]));
        for (const i of chunk) {
          const item = byId.get(String(i));
          if (!item) {
            answers[i] = { ok: false, error: new MicrosoftError('UNKNOWN', `$batch answered no item ${i}`) };
          } else if (item.status >= 200 && item.status < 300) {
            const page = asPage(item.body);
            const probe = probes[i] as FolderProbe;
            const folder = (f: GraphObject) => ({ id: String(f.id), displayName: str(f.displayName) ?? '' });
            answers[i] = {
              ok: true,
              records: probe.kind === 'DELTA' ? page.value.map(contactDeltaRecord) : [],
              folders:
                probe.kind === 'FOLDERS'
                  ? page.value.map(folder)
                  : probe.kind === 'ROOT'
                    ? [folder(item.body as GraphObject)]
                    : [],
              nextLink: page.nextLink ?? null,
              deltaLink: page.deltaLink ?? null,
            };
          } else if (THROTTLE_STATUSES.includes(item.status) && round < PROBE_ATTEMPTS) {
            // Throttled on its own: sent again once its Retry-After has passed (1 s when it gave none).
            countTraffic(this.traffic, 'throttled');
            waitMs = Math.max(waitMs, retryAfterMs(headerOf(item.headers, 'retry-after')) ?? 1000);
            again.push(i);
          } else {
            answers[i] = { ok: false, error: itemError(item) };
          }
        }
      };
      let next = 0;
      await Promise.all(
        Array.from({ length: Math.min(PROBE_CONCURRENCY, chunks.length) }, async () => {
          while (next < chunks.length) await send(chunks[next++] as number[]);
        }),
      );
      if (again.length > 0) await new Promise((resolve) => setTimeout(resolve, waitMs));
      pending = again.sort((a, b) => a - b);
    }
    return answers as ProbeAnswer[];
  }

  readFolderChanges(
    accessToken: string,
    mailboxId: string,
    folderId: string,
    deltaLink: string | null,
  ): DirectoryStream<ContactDeltaRecord> {
    const { fetchPage } = this.fetcher(accessToken);
    const first = deltaLink ?? firstDeltaUrl(mailboxId, folderId);
    let link: string | null = null;
    async function* pages() {
      let url: string | undefined = first;
      while (url) {
        const page = await fetchPage(url);
        if (page.deltaLink) link = page.deltaLink;
        yield page.value.map(contactDeltaRecord);
        url = page.nextLink;
      }
    }
    return {
      pages: pages(),
      deltaLink: () => {
        if (!link) throw new Error('deltaLink() is known once every page has been read');
        return link;
      },
    };
  }
}
