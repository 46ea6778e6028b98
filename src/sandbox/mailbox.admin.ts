import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { AdminContactFolder, AdminMailbox, ContactInput, NewSharedMailboxInput } from './admin.types.js';
import type { ContactFolder, Mailbox } from './mailbox.store.js';
import { applyMailboxThrottleSettings, type MailboxThrottleSettings } from './mailbox.throttle.js';
import type { SandboxContext } from './sandbox.context.js';
import { SandboxError } from './sandbox.error.js';
import { asciiName } from './tenant.seed.js';

/**
 * Admin API for mailboxes (under `/_sandbox`, registered by admin.routes.ts): contacts
 * (create, update, delete: each change feeds the folder's contact delta), contact folders
 * (list, create, share and unshare with a user), shared mailboxes (create, list, add and remove
 * FullAccess members), the contact sync-state knob, and Outlook's throttling knobs.
 */
type Req = FastifyRequest<{
  Params: Record<string, string>;
  Querystring: Record<string, string>;
  Body: Record<string, unknown> | undefined;
}>;

function mailboxOf(ctx: SandboxContext, idOrUpn: string): Mailbox {
  const u = ctx.tenant.activeUser(idOrUpn);
  if (!u) throw new SandboxError(404, 'Request_ResourceNotFound', `User '${idOrUpn}' does not exist.`);
  if (!u.p.mail || u.p.userType === 'Guest') {
    throw new SandboxError(
      404,
      'MailboxNotEnabledForRESTAPI',
      `User '${idOrUpn}' has no mailbox in this directory.`,
    );
  }
  return ctx.tenant.mailboxes.mailbox(u.id, u.ordinal);
}

function userIdOf(ctx: SandboxContext, idOrUpn: unknown): string {
  const u = typeof idOrUpn === 'string' ? ctx.tenant.activeUser(idOrUpn) : undefined;
  if (!u)
    throw new SandboxError(404, 'Request_ResourceNotFound', `User '${String(idOrUpn)}' does not exist.`);
  return u.id;
}

export function folderDto(ctx: SandboxContext, box: Mailbox, f: ContactFolder): AdminContactFolder {
  const store = ctx.tenant.mailboxes;
  return {
    ...store.folderView(box, f),
    isDefault: f.no === 0,
    contacts: store.liveCount(f),
    sharedWith: [...f.sharedWith],
  };
}

export function mailboxDto(ctx: SandboxContext, box: Mailbox): AdminMailbox {
  const u = ctx.tenant.usersById.get(box.userId);
  return {
    userId: box.userId,
    userPrincipalName: String(u?.p.userPrincipalName ?? ''),
    displayName: String(u?.p.displayName ?? ''),
    mail: String(u?.p.mail ?? ''),
    shared: box.shared,
    members: [...box.members],
    folders: [...box.folders.values()].map((f) => folderDto(ctx, box, f)),
  };
}

export function registerMailboxAdminRoutes(admin: FastifyInstance, ctx: SandboxContext): void {
  const t = ctx.tenant;
  const store = t.mailboxes;
  const route = (
    method: 'GET' | 'POST' | 'PATCH' | 'DELETE',
    url: string,
    fn: (req: Req, reply: FastifyReply) => unknown,
  ) => admin.route({ method, url, handler: async (req, reply) => fn(req as Req, reply) });

  // ------------------------------------------------------------ shared mailboxes
  route('GET', '/shared-mailboxes', () =>
    [...store.sharedMailboxes]
      .map((id) => t.activeUser(id))
      .filter((u) => !!u)
      .map((u) => mailboxDto(ctx, store.mailbox(u.id, u.ordinal))),
  );
  route('POST', '/shared-mailboxes', (req, reply) => {
    const body = (req.body ?? {}) as unknown as NewSharedMailboxInput;
    const name = String(body.displayName ?? '').trim();
    if (!name) throw new SandboxError(400, 'BadRequest', 'displayName is required');
    const nick = String(body.mailNickname ?? `${asciiName(name) || 'shared'}.shared`);
    const upn = `${nick}@${t.defaultDomain}`;
    // Exchange creates a shared mailbox's user account disabled: nobody signs in as it.
    const u = t.createUser({
      userPrincipalName: upn,
      displayName: name,
      mail: upn,
      mailNickname: nick,
      accountEnabled: false,
      userType: 'Member',
    });
    store.sharedMailboxes.add(u.id);
    const box = store.mailbox(u.id, u.ordinal);
    box.touched = true;
    for (const m of body.members ?? []) store.addMember(box, userIdOf(ctx, m));
    return reply.code(201).send(mailboxDto(ctx, box));
  });

  // ------------------------------------------------------------ mailboxes and folders
  route('GET', '/mailboxes/:user', (req) => mailboxDto(ctx, mailboxOf(ctx, req.params.user as string)));
  route('POST', '/mailboxes/:user/members', (req) => {
    const box = mailboxOf(ctx, req.params.user as string);
    store.addMember(box, userIdOf(ctx, req.body?.userId));
    return mailboxDto(ctx, box);
  });
  route('DELETE', '/mailboxes/:user/members/:member', (req) => {
    const box = mailboxOf(ctx, req.params.user as string);
    store.removeMember(box, req.params.member as string);
    return mailboxDto(ctx, box);
  });
  route('GET', '/mailboxes/:user/folders', (req) => {
    const box = mailboxOf(ctx, req.params.user as string);
    return [...box.folders.values()].map((f) => folderDto(ctx, box, f));
  });
  route('POST', '/mailboxes/:user/folders', (req, reply) => {
    const box = mailboxOf(ctx, req.params.user as string);
    return reply
      .code(201)
      .send(folderDto(ctx, box, store.createFolder(box, String(req.body?.displayName ?? ''))));
  });
  route('POST', '/mailboxes/:user/folders/:folder/share', (req) => {
    const box = mailboxOf(ctx, req.params.user as string);
    const f = store.folderOr404(box, req.params.folder as string);
    store.share(box, f, userIdOf(ctx, req.body?.userId));
    return folderDto(ctx, box, f);
  });
  route('DELETE', '/mailboxes/:user/folders/:folder/share/:with', (req) => {
    const box = mailboxOf(ctx, req.params.user as string);
    const f = store.folderOr404(box, req.params.folder as string);
    store.unshare(box, f, req.params.with as string);
    return folderDto(ctx, box, f);
  });

  // ------------------------------------------------------------ contacts
  route('POST', '/mailboxes/:user/folders/:folder/contacts', (req, reply) => {
    const box = mailboxOf(ctx, req.params.user as string);
    const f = store.folderOr404(box, req.params.folder as string);
    return reply.code(201).send(store.createContact(box, f, (req.body ?? {}) as ContactInput));
  });
  route('GET', '/mailboxes/:user/contacts/:contact', (req) => {
    const box = mailboxOf(ctx, req.params.user as string);
    const { f, index, c } = store.findContact(box, req.params.contact as string);
    return store.view(box, f, index, c);
  });
  route('PATCH', '/mailboxes/:user/contacts/:contact', (req) =>
    store.updateContact(
      mailboxOf(ctx, req.params.user as string),
      req.params.contact as string,
      (req.body ?? {}) as ContactInput,
    ),
  );
  route('DELETE', '/mailboxes/:user/contacts/:contact', (req, reply) => {
    store.deleteContact(mailboxOf(ctx, req.params.user as string), req.params.contact as string);
    return reply.code(204).send();
  });

  // ------------------------------------------------------------ knobs
  // Every contact delta and skip token issued so far (of one folder, one mailbox, or all)
  // answers 410 Gone SyncStateNotFound from now on: Exchange lost the sync state.
  route('POST', '/mailboxes/expire-sync-states', (req) => {
    const at = Date.now() + 1;
    const user = req.body?.userId;
    if (typeof user === 'string') {
      const box = mailboxOf(ctx, user);
      const folder = req.body?.folderId;
      const folders =
        typeof folder === 'string' ? [store.folderOr404(box, folder)] : [...box.folders.values()];
      for (const f of folders) f.syncValidAfter = at;
      box.touched = true;
    } else {
      store.syncValidAfter = at;
    }
    return { syncStatesValidAfter: new Date(at).toISOString() };
  });
  route('GET', '/mailbox-throttling', () => ({ ...ctx.mailboxThrottle.settings }));
  route('PATCH', '/mailbox-throttling', (req) => {
    try {
      applyMailboxThrottleSettings(
        ctx.mailboxThrottle.settings,
        (req.body ?? {}) as Partial<MailboxThrottleSettings>,
      );
    } catch (e) {
      throw new SandboxError(400, 'BadRequest', (e as Error).message);
    }
    ctx.mailboxThrottle.reset();
    return { ...ctx.mailboxThrottle.settings };
  });
  route('POST', '/mailbox-throttling/reset', () => {
    Object.assign(ctx.mailboxThrottle.settings, ctx.initialMailboxThrottle);
    ctx.mailboxThrottle.reset();
    return { ...ctx.mailboxThrottle.settings };
  });
}
