import type { ContactFolderInfo, ContactsReader } from '../app/ports/contact-sync.port.js';
import type { DirectoryStream } from '../app/ports/directory.port.js';
import { MicrosoftError } from '../app/ports/microsoft.port.js';
import type { ContactDeltaRecord, OutlookContact } from '../domain/contact-sync.planner.js';
import { type GraphObject, type GraphPage, pageFetcher, readerError } from './graph-paging.js';
import { createCountingGraphClient, type GraphTraffic } from './graph-transport.js';
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
 * mailbox: under Outlook's 4 concurrent requests per mailbox); no `$batch` is used, so no item
 * of a batch can be throttled without the SDK retrying it.
 */
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

  readFolderChanges(
    accessToken: string,
    mailboxId: string,
    folderId: string,
    deltaLink: string | null,
  ): DirectoryStream<ContactDeltaRecord> {
    const { fetchPage } = this.fetcher(accessToken);
    const first =
      deltaLink ??
      `/users/${encodeURIComponent(mailboxId)}/contactFolders/${encodeURIComponent(folderId)}/contacts/delta?$select=${CONTACT_SELECT}`;
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
