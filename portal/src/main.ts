import { html, nothing, render, type TemplateResult } from 'lit-html';
import { ApiError, currentSession, signIn, signOut } from './api';
import { screens } from './screens';
import { act, fieldError, formError, isViewer, problems, rerender, session, setRedraw } from './ui';
import './style.css';

/**
 * The PBX portal (issue 17): sign-in, then the screens in the seed guide's order. Routes are
 * hash routes (#/integration, #/runs/<id> ...), so the gateway serves one page.
 */

const root = document.getElementById('app') as HTMLElement;
let checked = false;

function route(): { name: string; arg: string | null } {
  const [, name = 'integration', arg = null] = location.hash.split('/');
  return { name: screens[name] ? name : 'integration', arg };
}

function signInView(): TemplateResult {
  const submit = (e: Event) => {
    e.preventDefault();
    const key = (document.getElementById('signin-key') as HTMLInputElement).value;
    void act('signin', async () => {
      session.who = await signIn(key);
      (document.getElementById('signin-key') as HTMLInputElement).value = '';
      await load();
    });
  };
  return html`<main class="signin"><h1>PBX portal</h1>
    <p>Sign in with an ADMIN or VIEWER API key of your PBX. A VIEWER sees everything and changes nothing.</p>
    <form id="signin" @submit=${submit} autocomplete="off">
      <div class="field"><label for="signin-key">API key</label>
        <input id="signin-key" name="key" type="password" required autofocus spellcheck="false"
          aria-describedby="signin-key-error">
        ${fieldError('signin', ['key'])}</div>
      ${formError('signin', ['key'])}
      <button type="submit">Sign in</button>
    </form></main>`;
}

const NAV: Array<[string, string]> = [
  ['integration', 'Integration'],
  ['rules', 'Sync rules'],
  ['contacts', 'Contacts'],
  ['presence', 'Presence'],
  ['sso', 'SSO'],
  ['schedule', 'Schedule'],
  ['sync', 'Update Now'],
  ['runs', 'History'],
  ['held', 'Held deletes'],
  ['audit', 'Audit log'],
];

function shell(body: TemplateResult): TemplateResult {
  const current = route().name;
  const out = () =>
    void act('signout', async () => {
      await signOut();
      session.who = null;
    });
  return html`<header><span class="brand">PBX portal</span>
      <span class="who" id="who">${session.who?.role}${isViewer() ? ' (read-only)' : ''}</span>
      <button type="button" id="signout" @click=${out}>Sign out</button></header>
    <nav aria-label="Screens"><ul>
      ${NAV.map(
        ([name, label]) =>
          html`<li><a href=${`#/${name}`} aria-current=${current === name ? 'page' : 'false'}>${label}</a></li>`,
      )}
      <li><a href="/admin/queues">Job dashboard</a></li>
    </ul></nav>
    ${isViewer() ? html`<p class="banner" role="note">Signed in with a VIEWER key: you can look, not change.</p>` : nothing}
    <main id="main">${body}</main>`;
}

let cleared = false;
function draw() {
  if (!checked) return;
  // lit-html renders after what a container holds: the static "Loading…" goes first.
  if (!cleared) {
    root.replaceChildren();
    cleared = true;
  }
  if (!session.who) return render(signInView(), root);
  const { name, arg } = route();
  render(shell(screens[name].view(arg)), root);
}

async function load() {
  const { name, arg } = route();
  const screen = screens[name];
  problems[`load-${name}`] = [];
  draw();
  try {
    await screen.load(arg);
  } catch (err) {
    if (err instanceof ApiError && err.problems.some((p) => p.code === 'UNAUTHENTICATED')) session.who = null;
    problems[`load-${name}`] =
      err instanceof ApiError ? err.problems : [{ code: 'ERROR', message: (err as Error).message }];
  }
  draw();
}

setRedraw(draw);
window.addEventListener('hashchange', () => void load());
currentSession()
  .then((w) => {
    session.who = w;
  })
  .catch(() => {
    session.who = null;
  })
  .finally(() => {
    checked = true;
    if (session.who) void load();
    else rerender();
  });
