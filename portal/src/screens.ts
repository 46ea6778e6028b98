import { html, nothing, type TemplateResult } from 'lit-html';
import { mutate, query, subscribe } from './api';
import * as G from './generated/graphql';
import {
  act,
  bool,
  busy,
  checkbox,
  checkGroup,
  copyable,
  fieldError,
  formError,
  formValues,
  isViewer,
  list,
  type PickOption,
  picked,
  picker,
  problems,
  rerender,
  resetPickers,
  select,
  str,
  textField,
  when,
} from './ui';

/** One screen: what it loads, and how it looks. */
export interface Screen {
  load(arg: string | null): Promise<void>;
  view(arg: string | null): TemplateResult;
}

const loadError = (name: string) => formError(`load-${name}`, []);
const saveButton = (form: string, label: string) =>
  html`<button type="submit" ?disabled=${isViewer() || busy.has(form)}>${label}</button>`;
const counts = (c: G.CountsFragment | null | undefined) =>
  c
    ? `${c.created} created, ${c.updated} updated, ${c.associated} associated, ${c.deleted} deleted, ${c.released} released, ${c.skipped} skipped, ${c.failed} failed, ${c.held} held`
    : '—';

// ---- integration ---------------------------------------------------------------------------------

let integration: G.IntegrationDetailsQuery['integration'] | null = null;
const SECRET_WARN_DAYS = 30;

const integrationScreen: Screen = {
  async load() {
    integration = (await query(G.IntegrationDetailsDocument)).integration;
  },
  view() {
    const i = integration;
    if (!i) return html`<h1>Integration</h1>${loadError('integration')}`;
    const expires = i.secretExpiresAt ? new Date(i.secretExpiresAt) : null;
    const days = expires ? Math.floor((expires.getTime() - Date.now()) / 86_400_000) : null;
    const connect = (e: Event) => {
      const f = formValues(e);
      const date = str(f, 'secretExpiresAt');
      void act('connect', async () => {
        const r = await mutate(G.ConnectDocument, {
          input: {
            clientId: str(f, 'clientId') ?? '',
            tenantId: str(f, 'tenantId') ?? '',
            clientSecret: str(f, 'clientSecret') ?? '',
            adminConsent: bool(f, 'adminConsent'),
            ...(date ? { secretExpiresAt: new Date(date).toISOString() } : {}),
          },
        });
        location.assign(r.connect.authorizationUrl);
        return 'Opening Microsoft sign-in…';
      });
    };
    const reconsent = () =>
      void act('reconsent', async () => {
        const r = await mutate(G.ReconsentDocument);
        location.assign(r.reconsent.authorizationUrl);
      });
    const updateSecret = (e: Event) => {
      const f = formValues(e);
      const date = str(f, 'expiresAt');
      void act('secret', async () => {
        await mutate(G.UpdateSecretDocument, {
          secret: str(f, 'secret') ?? '',
          expiresAt: date ? new Date(date).toISOString() : null,
        });
        await integrationScreen.load(null);
        return 'Secret updated.';
      });
    };
    const change = (form: string, run: () => Promise<unknown>, note: string) =>
      void act(form, async () => {
        await run();
        await integrationScreen.load(null);
        return note;
      });
    const choice = (form: string, name: string, what: string) => html`<fieldset>
      <legend>The ${what} it synced</legend>
      <span class="check"><input type="radio" id=${`${form}-${name}-retain`} name=${name} value="retain" checked>
        <label for=${`${form}-${name}-retain`}>Retain (unlocked, editable by hand)</label></span>
      <span class="check"><input type="radio" id=${`${form}-${name}-delete`} name=${name} value="delete">
        <label for=${`${form}-${name}-delete`}>Delete</label></span></fieldset>`;
    const pauseTarget = (target: 'USERS' | 'GROUPS', paused: boolean) => {
      const form = `pause-${target.toLowerCase()}`;
      if (paused)
        return html`<form id=${form} @submit=${(e: Event) => {
          formValues(e);
          change(form, () => mutate(G.ResumeDocument, { target }), `${target} sync resumed.`);
        }}><p>${target} sync is paused.</p>${formError(form, [])}${saveButton(form, `Resume ${target.toLowerCase()} sync`)}</form>`;
      return html`<form id=${form} @submit=${(e: Event) => {
        const f = formValues(e);
        change(
          form,
          () => mutate(G.PauseDocument, { target, deleteSynced: f.get('synced') === 'delete' }),
          `${target} sync paused.`,
        );
      }}>${choice(form, 'synced', target === 'USERS' ? 'extensions' : 'extension groups')}
        ${formError(form, [])}${saveButton(form, `Pause ${target.toLowerCase()} sync`)}</form>`;
    };
    type Ending = (v: { deleteExtensions: boolean; deleteGroups: boolean }) => Promise<unknown>;
    const endForm = (form: string, label: string, run: Ending) =>
      html`<form id=${form} @submit=${(e: Event) => {
        const f = formValues(e);
        change(
          form,
          () =>
            run({
              deleteExtensions: f.get('extensions') === 'delete',
              deleteGroups: f.get('groups') === 'delete',
            }),
          `${label}: done.`,
        );
      }}>${choice(form, 'extensions', 'extensions')}${choice(form, 'groups', 'extension groups')}
        ${formError(form, [])}${saveButton(form, label)}</form>`;

    return html`<h1>Integration</h1>${loadError('integration')}
      <section aria-labelledby="status-h"><h2 id="status-h">Status</h2>
        <dl class="facts">
          <dt>Status</dt><dd id="integration-status">${i.status}</dd>
          <dt>Health</dt><dd id="integration-health">${i.health.status}${i.health.codes.length ? ` (${i.health.codes.join(', ')})` : ''}</dd>
          ${i.health.message ? html`<dt>Health message</dt><dd>${i.health.message}</dd>` : nothing}
          <dt>Organization</dt><dd>${i.organizationName ?? '—'}</dd>
          <dt>Signed in as</dt><dd>${i.authorizationAccount?.username ?? '—'}</dd>
          <dt>Client ID</dt><dd>${i.clientId ?? '—'}</dd>
          <dt>Tenant ID</dt><dd>${i.tenantId ?? '—'}</dd>
          <dt>Secret</dt><dd>${i.secretLast4 ? `…${i.secretLast4}` : '—'}, expires ${when(i.secretExpiresAt)}</dd>
          <dt>Connected</dt><dd>${when(i.connectedAt)}</dd>
        </dl>
        ${i.lastError ? html`<p class="error" role="alert"><code>${i.lastError.code}</code> ${i.lastError.message}</p>` : nothing}
        ${i.warnings.map((w) => html`<p class="warn" role="status">${w}</p>`)}
      </section>
      <section aria-labelledby="uris-h"><h2 id="uris-h">Redirect URIs</h2>
        <p>Add these to the app registration in Microsoft Entra ID (Authentication).</p>
        ${copyable('Redirect URI', i.redirectUri, 'redirect-uri')}
        ${i.linkusSsoRedirectUris.map((u, n) => copyable(`Linkus SSO redirect URI ${n + 1}`, u, `linkus-uri-${n}`))}
      </section>
      <section aria-labelledby="connect-h"><h2 id="connect-h">${i.status === 'NOT_CONNECTED' ? 'Connect' : 'Connect again'}</h2>
        <form id="connect" @submit=${connect}>
          ${textField('connect', 'clientId', 'Application (client) ID', i.clientId, { required: true })}
          ${textField('connect', 'tenantId', 'Directory (tenant) ID', i.tenantId, { required: true })}
          ${textField('connect', 'clientSecret', 'Client secret value', '', { type: 'password', required: true })}
          ${textField('connect', 'secretExpiresAt', 'Secret expires on', '', { type: 'date' })}
          ${checkbox('connect', 'adminConsent', 'Go on to admin consent when the app has none yet', true)}
          ${formError('connect', ['clientId', 'tenantId', 'clientSecret', 'secretExpiresAt', 'adminConsent'])}
          ${saveButton('connect', 'Connect')}
        </form>
        ${
          i.status !== 'NOT_CONNECTED'
            ? html`<p><button type="button" id="reconsent" ?disabled=${isViewer()} @click=${reconsent}>Reconsent</button></p>${formError('reconsent', [])}`
            : nothing
        }
      </section>
      <section aria-labelledby="secret-h"><h2 id="secret-h">Client secret</h2>
        ${
          days !== null && days < SECRET_WARN_DAYS
            ? html`<p class="warn" role="status" id="secret-warning">${days < 0 ? 'The client secret has expired.' : `The client secret expires in ${days} days.`} Update it before then.</p>`
            : nothing
        }
        <form id="secret" @submit=${updateSecret}>
          ${textField('secret', 'secret', 'New secret value', '', { type: 'password', required: true })}
          ${textField('secret', 'expiresAt', 'Expires on', '', { type: 'date' })}
          ${formError('secret', ['secret', 'expiresAt'])}${saveButton('secret', 'Update secret')}
        </form></section>
      <section aria-labelledby="pause-h"><h2 id="pause-h">Pause, disable, disconnect</h2>
        <h3>Users</h3>${pauseTarget('USERS', i.userSyncPaused)}
        <h3>Groups</h3>${pauseTarget('GROUPS', i.groupSyncPaused)}
        <h3>${i.status === 'DISABLED' ? 'Enable' : 'Disable'}</h3>
        ${
          i.status === 'DISABLED'
            ? html`<form id="enable" @submit=${(e: Event) => {
                formValues(e);
                change('enable', () => mutate(G.EnableDocument), 'Enabled.');
              }}>${formError('enable', [])}${saveButton('enable', 'Enable')}</form>`
            : endForm('disable', 'Disable', (v) => mutate(G.DisableDocument, v))
        }
        <h3>Disconnect</h3>${endForm('disconnect', 'Disconnect', (v) => mutate(G.DisconnectDocument, v))}
      </section>`;
  },
};

// ---- pickers of directory objects ----------------------------------------------------------------

/** Groups of the directory, by name (directoryGroups), for the rules that choose groups. */
const findGroups = async (search: string): Promise<PickOption[]> =>
  (await query(G.DirectoryGroupsDocument, { search, first: 50 })).directoryGroups.map((g) => ({
    id: g.id,
    label: `${g.displayName} (${g.kind})`,
  }));

/** Shared mailboxes of the directory, by name (sharedMailboxes), for the contact rule (C3). */
const findMailboxes = async (search: string): Promise<PickOption[]> =>
  (await query(G.SharedMailboxesDocument, { search, first: 50 })).sharedMailboxes.map((m) => ({
    id: m.id,
    label: m.mail ? `${m.displayName} <${m.mail}>` : m.displayName,
  }));

// ---- sync rules ----------------------------------------------------------------------------------

let settings: G.SyncSettingsQuery['syncSettings'] | null = null;
type Preview = G.PreviewSyncQuery['previewSync'];
const previews: Record<'user' | 'group', { key: string; preview: Preview } | null> = {
  user: null,
  group: null,
};

function userRuleOf(f: FormData): G.UserSyncRuleInput {
  const range = (str(f, 'range') ?? 'ALL') as G.UserRangeKind;
  const numbering = (str(f, 'numbering') ?? 'AUTO') as G.NumberingMode;
  return {
    range,
    numbering,
    ...(numbering === 'AUTO'
      ? { startNumber: str(f, 'startNumber') }
      : { numberProperty: str(f, 'numberProperty') }),
    ...(range === 'BY_GROUPS' ? { groupIds: picked('user-rule-groupIds') } : {}),
    ...(range === 'BY_TYPE' ? { userTypes: list(f, 'userTypes') as G.DirectoryUserType[] } : {}),
    autoDelete: bool(f, 'autoDelete'),
    autoAssociate: bool(f, 'autoAssociate'),
    deleteWhenDisabled: bool(f, 'deleteWhenDisabled'),
    deleteWhenDeleted: bool(f, 'deleteWhenDeleted'),
    welcomeEmail: bool(f, 'welcomeEmail'),
  };
}

function groupRuleOf(f: FormData): G.GroupSyncRuleInput {
  const range = (str(f, 'range') ?? 'ALL') as G.GroupRangeKind;
  return {
    range,
    ...(range === 'SPECIFIC' ? { groupIds: picked('group-rule-groupIds') } : {}),
    ...(range === 'BY_TYPE' ? { kinds: list(f, 'kinds') as G.DirectoryGroupKind[] } : {}),
    autoDelete: bool(f, 'autoDelete'),
  };
}

function previewView(kind: 'user' | 'group') {
  const p = previews[kind]?.preview;
  if (!p) return nothing;
  const part = kind === 'user' ? p.users : p.groups;
  return html`<section class="preview" id=${`${kind}-preview`} aria-live="polite"><h3>Preview</h3>
    ${p.notes.map((n) => html`<p class="note">${n}</p>`)}
    ${
      part
        ? html`<p id=${`${kind}-preview-counts`}>${counts(part.counts)}${part.held ? ' — the deletion guard would hold the deletes' : ''}</p>
      <div class="scroll"><table><caption>What a sync with this rule would do (first ${part.items.length})</caption>
        <thead><tr><th scope="col">Action</th><th scope="col">Reason</th><th scope="col">Name</th>${kind === 'user' ? html`<th scope="col">Number</th>` : nothing}</tr></thead>
        <tbody>${part.items.map(
          (it) =>
            html`<tr><td>${it.action}</td><td>${it.reason}</td><td>${it.objectName}</td>${kind === 'user' ? html`<td>${'number' in it ? it.number : ''}</td>` : nothing}</tr>`,
        )}</tbody></table></div>`
        : nothing
    }</section>`;
}

const rulesScreen: Screen = {
  async load() {
    settings = (await query(G.SyncSettingsDocument)).syncSettings;
    resetPickers('user-rule');
    resetPickers('group-rule');
  },
  view() {
    const s = settings;
    if (!s) return html`<h1>Sync rules</h1>${loadError('rules')}`;
    const u = s.userRule;
    const g = s.groupRule;
    /** Preview first, then Save: the Save button stays off until this very rule was previewed. */
    const submit = (kind: 'user' | 'group') => (e: Event) => {
      const f = formValues(e);
      const action = ((e as SubmitEvent).submitter as HTMLButtonElement | null)?.value ?? 'preview';
      const form = `${kind}-rule`;
      const userRule = kind === 'user' ? userRuleOf(f) : undefined;
      const groupRule = kind === 'group' ? groupRuleOf(f) : undefined;
      const key = JSON.stringify(userRule ?? groupRule);
      void act(form, async () => {
        if (action === 'preview') {
          const preview = (
            await query(G.PreviewSyncDocument, {
              scopes: [kind === 'user' ? 'USERS' : 'GROUPS'],
              first: 50,
              ...(userRule ? { userRule } : { groupRule }),
            })
          ).previewSync;
          previews[kind] = { key, preview };
          return undefined;
        }
        if (previews[kind]?.key !== key) throw new Error('Preview this rule before saving it.');
        const r = userRule
          ? (await mutate(G.SaveUserSyncRuleDocument, { input: userRule })).saveUserSyncRule
          : (await mutate(G.SaveGroupSyncRuleDocument, { input: groupRule as G.GroupSyncRuleInput }))
              .saveGroupSyncRule;
        previews[kind] = null;
        await rulesScreen.load(null);
        return r.initialRun ? `Saved. The first sync started (run ${r.initialRun.id}).` : 'Saved.';
      });
    };
    const invalidate = (kind: 'user' | 'group') => () => {
      if (previews[kind]) {
        previews[kind] = null;
        rerender();
      }
    };
    const saveDisabled = (kind: 'user' | 'group') =>
      isViewer() || !previews[kind] || busy.has(`${kind}-rule`);
    return html`<h1>Sync rules</h1>${loadError('rules')}
      <section aria-labelledby="user-h"><h2 id="user-h">Users → extensions</h2>
        <p>Saved ${when(s.userRuleSavedAt)}. Preview a rule to see what it would do, then save it.</p>
        <form id="user-rule" @submit=${submit('user')} @change=${invalidate('user')}>
          ${select('user-rule', 'range', 'Which users', ['ALL', 'BY_GROUPS', 'BY_TYPE'], u?.range)}
          ${picker('user-rule-groupIds', 'Groups (BY_GROUPS)', u?.groupIds, findGroups, isViewer())}
          ${fieldError('user-rule', ['groupIds'])}
          ${checkGroup('user-rule', 'userTypes', 'User types (BY_TYPE)', ['MEMBER', 'GUEST'], u?.userTypes)}
          ${select('user-rule', 'numbering', 'Numbering', ['AUTO', 'FROM_PROPERTY'], u?.numbering)}
          ${textField('user-rule', 'startNumber', 'First number (AUTO)', u?.startNumber ?? '1000')}
          ${textField('user-rule', 'numberProperty', 'User property (FROM_PROPERTY)', u?.numberProperty, { aliases: ['property'] })}
          ${checkbox('user-rule', 'autoDelete', 'Delete extensions no longer in sync', u?.autoDelete ?? true)}
          ${checkbox('user-rule', 'deleteWhenDisabled', 'Delete when the user is disabled', u?.deleteWhenDisabled ?? true)}
          ${checkbox('user-rule', 'deleteWhenDeleted', 'Delete when the user is deleted', u?.deleteWhenDeleted ?? true)}
          ${checkbox('user-rule', 'autoAssociate', 'Take over an extension with the same email', u?.autoAssociate ?? false)}
          ${checkbox('user-rule', 'welcomeEmail', 'Send the Linkus welcome email', u?.welcomeEmail ?? false)}
          ${formError('user-rule', ['range', 'groupIds', 'userTypes', 'numbering', 'startNumber', 'property', 'numberProperty'])}
          <button type="submit" value="preview" ?disabled=${busy.has('user-rule')}>Preview</button>
          <button type="submit" value="save" ?disabled=${saveDisabled('user')}>Save user rule</button>
        </form>${previewView('user')}</section>
      <section aria-labelledby="group-h"><h2 id="group-h">Groups → extension groups</h2>
        <p>Saved ${when(s.groupRuleSavedAt)}.</p>
        <form id="group-rule" @submit=${submit('group')} @change=${invalidate('group')}>
          ${select('group-rule', 'range', 'Which groups', ['ALL', 'BY_TYPE', 'SPECIFIC'], g?.range)}
          ${checkGroup('group-rule', 'kinds', 'Kinds (BY_TYPE)', ['SECURITY', 'MICROSOFT_365', 'OTHER'], g?.kinds)}
          ${picker('group-rule-groupIds', 'Groups (SPECIFIC)', g?.groupIds, findGroups, isViewer())}
          ${fieldError('group-rule', ['groupIds'])}
          ${checkbox('group-rule', 'autoDelete', 'Delete extension groups no longer in sync', g?.autoDelete ?? true)}
          ${formError('group-rule', ['range', 'kinds', 'groupIds'])}
          <button type="submit" value="preview" ?disabled=${busy.has('group-rule')}>Preview</button>
          <button type="submit" value="save" ?disabled=${saveDisabled('group')}>Save group rule</button>
        </form>${previewView('group')}</section>
      <section aria-labelledby="guard-h"><h2 id="guard-h">Deletion guard</h2>
        <p>Deletes are held for approval when there are more than ${s.deletionGuard.maxDeletes} and more than
          ${Math.round(s.deletionGuard.maxRatio * 100)} % of the synced ones.</p>
        <form id="guard" @submit=${(e: Event) => {
          const f = formValues(e);
          void act('guard', async () => {
            await mutate(G.SaveDeletionGuardDocument, {
              maxDeletes: Number(str(f, 'maxDeletes')),
              maxRatio: Number(str(f, 'maxRatio')),
            });
            await rulesScreen.load(null);
            return 'Saved.';
          });
        }}>
          ${textField('guard', 'maxDeletes', 'At most deletes', String(s.deletionGuard.maxDeletes), { type: 'number' })}
          ${textField('guard', 'maxRatio', 'At most ratio (0–1)', String(s.deletionGuard.maxRatio), { type: 'text' })}
          ${formError('guard', ['maxDeletes', 'maxRatio'])}${saveButton('guard', 'Save guard')}
        </form></section>`;
  },
};

// ---- contacts ------------------------------------------------------------------------------------

let contactRule: G.ContactSyncRuleQuery['contactSyncRule'] | null = null;
let phonebooks: G.PhonebooksQuery['phonebooks'] = [];

const contactsScreen: Screen = {
  async load() {
    const [r, p] = await Promise.all([query(G.ContactSyncRuleDocument), query(G.PhonebooksDocument)]);
    contactRule = r.contactSyncRule;
    phonebooks = p.phonebooks;
    resetPickers('contacts');
  },
  view() {
    const c = contactRule;
    const save = (e: Event) => {
      const f = formValues(e);
      void act('contacts', async () => {
        const r = await mutate(G.SaveContactSyncRuleDocument, {
          input: {
            personalEnabled: bool(f, 'personalEnabled'),
            personalRange: (str(f, 'personalRange') ?? 'ALL') as G.PersonalContactsRange,
            personalGroupIds: picked('contacts-personalGroupIds'),
            sharedEnabled: bool(f, 'sharedEnabled'),
            sharedRange: (str(f, 'sharedRange') ?? 'ALL') as G.SharedMailboxRange,
            sharedMailboxIds: picked('contacts-sharedMailboxIds'),
            phonebookName: str(f, 'phonebookName') ?? '',
          },
        });
        await contactsScreen.load(null);
        return r.saveContactSyncRule.initialRun ? 'Saved. The first contact sync started.' : 'Saved.';
      });
    };
    return html`<h1>Contacts</h1>${loadError('contacts')}
      <form id="contacts" @submit=${save}>
        ${checkbox('contacts', 'personalEnabled', "Sync users' Outlook contacts", c?.personalEnabled ?? false)}
        ${select('contacts', 'personalRange', 'Whose contacts', ['ALL', 'BY_GROUPS'], c?.personalRange)}
        ${picker('contacts-personalGroupIds', 'Groups (BY_GROUPS)', c?.personalGroupIds, findGroups, isViewer())}
        ${fieldError('contacts', ['personalGroupIds'])}
        ${checkbox('contacts', 'sharedEnabled', 'Sync shared mailboxes into phonebooks', c?.sharedEnabled ?? false)}
        ${select('contacts', 'sharedRange', 'Which shared mailboxes', ['ALL', 'SPECIFIC'], c?.sharedRange)}
        ${picker('contacts-sharedMailboxIds', 'Shared mailboxes (SPECIFIC)', c?.sharedMailboxIds, findMailboxes, isViewer())}
        ${fieldError('contacts', ['sharedMailboxIds'])}
        ${textField('contacts', 'phonebookName', 'Phonebook name', c?.phonebookName)}
        ${formError('contacts', ['personalEnabled', 'personalRange', 'personalGroupIds', 'sharedEnabled', 'sharedRange', 'sharedMailboxIds', 'phonebookName'])}
        ${saveButton('contacts', 'Save contact rule')}
      </form>
      <h2>Phonebooks</h2>
      <ul>${phonebooks.map((p) => html`<li>${p.name}</li>`)}</ul>`;
  },
};

// ---- presence ------------------------------------------------------------------------------------

let presence: G.PresenceSyncQuery['presenceSync'] | null = null;
let presences: G.ExtensionPresencesQuery['extensions']['edges'] = [];
const STATUSES = ['AVAILABLE', 'AWAY', 'BUSINESS_TRIP', 'DO_NOT_DISTURB', 'LUNCH_BREAK', 'OFF_WORK'] as const;
const TEAMS = ['available', 'busy', 'doNotDisturb', 'beRightBack', 'appearAway', 'appearOffline'] as const;

const presenceScreen: Screen = {
  async load() {
    const [p, e] = await Promise.all([
      query(G.PresenceSyncDocument),
      query(G.ExtensionPresencesDocument, { first: 100 }),
    ]);
    presence = p.presenceSync;
    presences = e.extensions.edges;
  },
  view() {
    const toggle = (e: Event) => {
      const f = formValues(e);
      void act('presence', async () => {
        await mutate(G.SavePresenceSyncDocument, { enabled: bool(f, 'enabled') });
        await presenceScreen.load(null);
        return 'Saved.';
      });
    };
    const mapping = (id: string, current: G.PresenceFragment | null | undefined) => {
      const form = `map-${id}`;
      return html`<form id=${form} class="mapping" @submit=${(e: Event) => {
        const f = formValues(e);
        void act(form, async () => {
          await mutate(G.SavePresenceMappingDocument, {
            extensionIds: [id],
            enabled: bool(f, 'enabled'),
            mapping: Object.fromEntries(TEAMS.map((t) => [t, str(f, t)])) as G.PresenceMappingInput,
          });
          await presenceScreen.load(null);
          return 'Saved.';
        });
      }}>${checkbox(form, 'enabled', 'Follow Teams', current?.enabled ?? true)}
        ${TEAMS.map((t) => select(form, t, `Teams ${t} →`, STATUSES, current?.mapping?.[t] ?? null))}
        ${formError(form, [...TEAMS])}${saveButton(form, 'Save mapping')}</form>`;
    };
    return html`<h1>Presence</h1>${loadError('presence')}
      <form id="presence" @submit=${toggle}>
        ${checkbox('presence', 'enabled', 'Sync Teams presence to extension presence', presence?.enabled ?? false)}
        <p>${presence?.users ?? 0} users followed, every ${(presence?.intervalMs ?? 0) / 1000} s.</p>
        ${formError('presence', ['enabled'])}${saveButton('presence', 'Save')}
      </form>
      <h2>Per extension</h2>
      ${presences.map(
        ({
          node,
        }) => html`<details><summary>Extension ${node.externalId ?? node.id}: ${node.presence?.status ?? '—'}
          ${node.presence?.teamsAvailability ? `(Teams: ${node.presence.teamsAvailability})` : ''}</summary>
          ${mapping(node.id, node.presence)}</details>`,
      )}`;
  },
};

// ---- SSO -----------------------------------------------------------------------------------------

let sso: G.LinkusSsoQuery['linkusSso'] | null = null;
const ssoScreen: Screen = {
  async load() {
    sso = (await query(G.LinkusSsoDocument)).linkusSso;
  },
  view() {
    const save = (e: Event) => {
      const f = formValues(e);
      void act('sso', async () => {
        sso = (
          await mutate(G.SaveLinkusSsoDocument, {
            input: {
              enabled: bool(f, 'enabled'),
              redirectUris: (str(f, 'redirectUris') ?? '').split(/\s+/).filter(Boolean),
            },
          })
        ).saveLinkusSso;
        return 'Saved.';
      });
    };
    return html`<h1>Linkus SSO</h1>${loadError('sso')}
      ${copyable('Microsoft redirect URI', sso?.microsoftRedirectUri, 'sso-ms-uri')}
      ${copyable('Start URL', sso?.startUrl, 'sso-start')}
      <form id="sso" @submit=${save}>
        ${checkbox('sso', 'enabled', 'Linkus users sign in with Microsoft', sso?.enabled ?? false)}
        <div class="field"><label for="sso-redirectUris">Linkus client redirect URIs (one a line)</label>
          <textarea id="sso-redirectUris" name="redirectUris" rows="4">${(sso?.redirectUris ?? []).join('\n')}</textarea></div>
        ${formError('sso', ['enabled'])}${saveButton('sso', 'Save SSO')}
      </form>`;
  },
};

// ---- schedule and change triggers ----------------------------------------------------------------

let schedule: G.ScheduleQuery['schedule'] | null = null;
let triggers: G.ChangeTriggersQuery['changeTriggers'] | null = null;
const DAYS = ['MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT', 'SUN'] as const;

const scheduleScreen: Screen = {
  async load() {
    const [s, t] = await Promise.all([query(G.ScheduleDocument), query(G.ChangeTriggersDocument)]);
    schedule = s.schedule;
    triggers = t.changeTriggers;
  },
  view() {
    const saveSchedule = (e: Event) => {
      const f = formValues(e);
      void act('schedule', async () => {
        const frequency = (str(f, 'frequency') ?? 'DAILY') as G.ScheduleFrequency;
        schedule = (
          await mutate(G.SaveScheduleDocument, {
            input: {
              frequency,
              time: str(f, 'time') ?? '',
              ...(frequency === 'WEEKLY' ? { days: list(f, 'days') as G.Weekday[] } : {}),
            },
          })
        ).saveSchedule;
        return 'Saved.';
      });
    };
    const saveTriggers = (e: Event) => {
      const f = formValues(e);
      void act('triggers', async () => {
        await mutate(G.SaveChangeTriggersDocument, {
          debounceSeconds: Number(str(f, 'debounceSeconds')),
          threshold: Number(str(f, 'threshold')),
        });
        await scheduleScreen.load(null);
        return 'Saved.';
      });
    };
    return html`<h1>Schedule and change triggers</h1>${loadError('schedule')}
      <p>Next scheduled sync: ${when(schedule?.nextRunAt)} (${schedule?.timeZone ?? ''}).</p>
      <form id="schedule" @submit=${saveSchedule}>
        ${select('schedule', 'frequency', 'Frequency', ['DAILY', 'WEEKLY'], schedule?.frequency)}
        ${checkGroup('schedule', 'days', 'Days (WEEKLY)', DAYS, schedule?.days)}
        ${textField('schedule', 'time', 'Time (HH:MM)', schedule?.time, { type: 'time' })}
        ${formError('schedule', ['frequency', 'days', 'time'])}${saveButton('schedule', 'Save schedule')}
      </form>
      <h2>Change triggers</h2>
      <p>Mode ${triggers?.mode ?? '—'}. ${(triggers?.subscriptions ?? []).map((s) => `${s.resource} until ${when(s.expiresAt)}. `)}</p>
      <form id="triggers" @submit=${saveTriggers}>
        ${textField('triggers', 'debounceSeconds', 'Wait after a change (s)', String(triggers?.debounceSeconds ?? ''), { type: 'number' })}
        ${textField('triggers', 'threshold', 'Sync at once after this many changes', String(triggers?.threshold ?? ''), { type: 'number' })}
        ${formError('triggers', ['debounceSeconds', 'threshold'])}${saveButton('triggers', 'Save triggers')}
      </form>`;
  },
};

// ---- Update Now ----------------------------------------------------------------------------------

type Progress = G.SyncProgressSubscription['syncProgress'];
let live: { runId: string; progress: Progress | null; stop?: () => void } | null = null;
const FINAL = new Set(['SUCCEEDED', 'FAILED', 'HELD']);

const syncScreen: Screen = {
  async load() {},
  view() {
    const start = () =>
      void act('sync-now', async () => {
        live?.stop?.();
        const run = (await mutate(G.SyncNowDocument, {})).syncNow;
        const state: NonNullable<typeof live> = { runId: run.id, progress: null };
        live = state;
        state.stop = subscribe(
          G.SyncProgressDocument,
          { runId: run.id },
          (d) => {
            state.progress = d.syncProgress;
            if (FINAL.has(d.syncProgress.status)) state.stop?.();
            rerender();
          },
          (p) => {
            problems['sync-now'] = p;
            rerender();
          },
        );
        return `Run ${run.id} queued.`;
      });
    const p = live?.progress;
    const done = p && FINAL.has(p.status);
    return html`<h1>Update Now</h1>
      <p>Reads the directory now and applies the rules (users, groups and contacts).</p>
      <button type="button" id="sync-now" ?disabled=${isViewer() || busy.has('sync-now')} @click=${start}>Update Now</button>
      ${formError('sync-now', [])}
      ${
        live
          ? html`<section aria-labelledby="progress-h" id="progress"><h2 id="progress-h">Run ${live.runId}</h2>
          <label for="progress-bar">${p ? `${p.phase}: ${p.done} of ${p.total}` : 'Waiting for the run…'}</label>
          <progress id="progress-bar" max=${p?.total || 1} value=${p ? (done ? p.total || 1 : p.done) : 0}
            data-status=${p?.status ?? 'QUEUED'}></progress>
          <p id="progress-status" role="status">${p?.status ?? 'QUEUED'}${p?.users ? ` — users: ${counts(p.users)}` : ''}</p>
          ${done ? html`<p><a id="progress-run" href=${`#/runs/${live.runId}`}>Open the run</a></p>` : nothing}</section>`
          : nothing
      }`;
  },
};

// ---- history, one run, held deletes --------------------------------------------------------------

let runs: G.SyncRunsQuery['syncRuns'] | null = null;
const runRow = (r: G.RunFragment) =>
  html`<tr><td><a href=${`#/runs/${r.id}`}>${r.id}</a></td><td>${r.status}</td><td>${r.trigger}</td>
    <td>${when(r.queuedAt)}</td><td>${counts(r.users)}</td><td>${counts(r.groups)}</td></tr>`;
const runsTable = (caption: string, rows: readonly G.RunFragment[], id: string) =>
  html`<div class="scroll"><table id=${id}><caption>${caption}</caption>
    <thead><tr><th scope="col">Run</th><th scope="col">Status</th><th scope="col">Trigger</th><th scope="col">Queued</th>
      <th scope="col">Users</th><th scope="col">Groups</th></tr></thead>
    <tbody>${rows.map(runRow)}</tbody></table></div>`;

const runsScreen: Screen = {
  async load() {
    runs = (await query(G.SyncRunsDocument, { first: 50 })).syncRuns;
  },
  view() {
    return html`<h1>History</h1>${loadError('runs')}
      ${runs ? runsTable(`The last ${runs.nodes.length} of ${runs.totalCount} runs`, runs.nodes, 'runs') : nothing}`;
  },
};

let run: G.SyncRunQuery['syncRun'] | null = null;
let itemAction: G.SyncItemAction | null = null;
let itemReason: string | null = null;

const runScreen: Screen = {
  async load(id) {
    run = (await query(G.SyncRunDocument, { id: id ?? '', action: itemAction, first: 200 })).syncRun;
  },
  view(id) {
    const r = run;
    if (!r || r.id !== id) return html`<h1>Run ${id}</h1>${loadError('runs')}`;
    const items = (r.items.nodes ?? []).filter((it) => !itemReason || it.reason === itemReason);
    const reasons = [...new Set(r.items.nodes.map((it) => it.reason))].sort();
    const filter = (e: Event) => {
      const f = formValues(e);
      itemAction = (str(f, 'action') as G.SyncItemAction | null) ?? null;
      itemReason = str(f, 'reason');
      void act('items', () => runScreen.load(id));
    };
    return html`<h1>Run ${r.id}</h1>${loadError('runs')}
      <dl class="facts"><dt>Status</dt><dd id="run-status">${r.status}</dd><dt>Trigger</dt><dd>${r.trigger}</dd>
        <dt>Mode</dt><dd>${r.mode ?? '—'}</dd><dt>Started</dt><dd>${when(r.startedAt)}</dd>
        <dt>Finished</dt><dd>${when(r.finishedAt)}</dd><dt>Users</dt><dd id="run-users">${counts(r.users)}</dd>
        <dt>Groups</dt><dd>${counts(r.groups)}</dd><dt>Contacts</dt><dd>${counts(r.contacts)}</dd></dl>
      ${r.error ? html`<p class="error" role="alert">${r.error}</p>` : nothing}
      ${r.status === 'HELD' ? approveButton(r.id) : nothing}
      <form id="items" class="inline" @submit=${filter}>
        ${select('items', 'action', 'Action', ['CREATE', 'UPDATE', 'ASSOCIATE', 'DELETE', 'RELEASE', 'SKIP', 'FAIL'], itemAction, { empty: 'any' })}
        ${select('items', 'reason', 'Reason', reasons, itemReason, { empty: 'any' })}
        <button type="submit">Filter</button>${formError('items', ['action', 'reason'])}
      </form>
      <div class="scroll"><table id="run-items"><caption>${items.length} of ${r.items.totalCount} items</caption>
        <thead><tr><th scope="col">Scope</th><th scope="col">Action</th><th scope="col">Reason</th><th scope="col">Name</th>
          <th scope="col">Number</th><th scope="col">State</th><th scope="col">Detail</th></tr></thead>
        <tbody>${items.map(
          (it) => html`<tr><td>${it.scope}</td><td>${it.action}</td><td>${it.reason}</td>
            <td>${it.objectName ?? it.userPrincipalName ?? ''}</td><td>${it.number ?? ''}</td><td>${it.state}</td><td>${it.detail ?? ''}</td></tr>`,
        )}</tbody></table></div>`;
  },
};

function approveButton(runId: string) {
  const form = `approve-${runId}`;
  const approve = () =>
    void act(form, async () => {
      const r = (await mutate(G.ApproveHeldDeletesDocument, { runId })).approveHeldDeletes;
      await Promise.all([
        heldScreen.load(null),
        run?.id === runId ? runScreen.load(runId) : Promise.resolve(),
      ]);
      return `Approved: ${r.users?.deleted ?? 0} extensions and ${r.groups?.deleted ?? 0} groups deleted.`;
    });
  return html`<button type="button" class="approve" id=${form} ?disabled=${isViewer() || busy.has(form)}
    @click=${approve}>Approve the held deletes of run ${runId}</button>${formError(form, [])}`;
}

let held: G.RunFragment[] = [];
const heldScreen: Screen = {
  async load() {
    held = (await query(G.SyncRunsDocument, { first: 100 })).syncRuns.nodes.filter(
      (r) => r.status === 'HELD',
    );
  },
  view() {
    return html`<h1>Held deletes</h1>${loadError('held')}
      <p>The deletion guard holds a run's deletes when there are too many. Check the run's DELETE items, then approve.</p>
      ${held.length ? nothing : html`<p id="held-none">No run holds deletes.</p>`}
      <ul class="held">${held.map(
        (r) =>
          html`<li><a href=${`#/runs/${r.id}`}>Run ${r.id}</a>, ${when(r.queuedAt)}: ${r.users?.held ?? 0} extension and
            ${r.groups?.held ?? 0} group deletes held. ${approveButton(r.id)}</li>`,
      )}</ul>`;
  },
};

// ---- audit log -----------------------------------------------------------------------------------

let audit: G.AuditLogQuery['auditLog'] | null = null;
const auditScreen: Screen = {
  async load() {
    audit = null;
    audit = (await query(G.AuditLogDocument, { first: 100 })).auditLog;
  },
  view() {
    if (!audit) return html`<h1>Audit log</h1>${loadError('audit')}`;
    return html`<h1>Audit log</h1>${loadError('audit')}
      <div class="scroll"><table id="audit"><caption>The last ${audit?.nodes.length ?? 0} of ${audit?.totalCount ?? 0} changes</caption>
        <thead><tr><th scope="col">When</th><th scope="col">Operation</th><th scope="col">Outcome</th><th scope="col">Role</th>
          <th scope="col">Message</th></tr></thead>
        <tbody>${(audit?.nodes ?? []).map(
          (a) =>
            html`<tr><td>${when(a.at)}</td><td>${a.operation}</td><td>${a.outcome}</td><td>${a.role}</td><td>${a.message ?? ''}</td></tr>`,
        )}</tbody></table></div>`;
  },
};

export const screens: Record<string, Screen> = {
  integration: integrationScreen,
  rules: rulesScreen,
  contacts: contactsScreen,
  presence: presenceScreen,
  sso: ssoScreen,
  schedule: scheduleScreen,
  sync: syncScreen,
  runs: {
    load: (arg) => (arg ? runScreen.load(arg) : runsScreen.load(arg)),
    view: (arg) => (arg ? runScreen.view(arg) : runsScreen.view(arg)),
  },
  held: heldScreen,
  audit: auditScreen,
};
