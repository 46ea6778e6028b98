import { html, nothing, type TemplateResult } from 'lit-html';
import { ApiError, type ApiProblem, type Who } from './api';

/** Who is signed in (GET /portal/session). */
export const session: { who: Who | null } = { who: null };
/** A VIEWER sees everything and changes nothing: its change buttons are disabled. */
export const isViewer = () => session.who?.role !== 'ADMIN';

/**
 * Small helpers every screen shares: errors as the API names them (extensions.code and
 * message) beside the field they concern, labelled inputs, and the copy button.
 */

/** Problems of each form, by form id. */
export const problems: Record<string, ApiProblem[]> = {};
/** Short notes of each form after it worked ("Saved."). */
export const notes: Record<string, string> = {};

let redraw: () => void = () => {};
export const setRedraw = (fn: () => void) => {
  redraw = fn;
};
export const rerender = () => redraw();

const last = (field: string | undefined) => field?.split('.').pop();

const problemLine = (p: ApiProblem) => html`<span class="problem"><code>${p.code}</code> ${p.message}</span>`;

/** The problems of one field of a form (matched by the API's field name or its last part). */
export function fieldError(form: string, names: string[]): TemplateResult | typeof nothing {
  const mine = (problems[form] ?? []).filter(
    (p) => p.field && (names.includes(p.field) || names.includes(last(p.field) ?? '')),
  );
  if (!mine.length) return nothing;
  return html`<p class="error" role="alert" id=${`${form}-${names[0]}-error`}>${mine.map(problemLine)}</p>`;
}

/** The problems of a form that no field of it shows. */
export function formError(form: string, fields: string[]): TemplateResult | typeof nothing {
  const rest = (problems[form] ?? []).filter(
    (p) => !p.field || !(fields.includes(p.field) || fields.includes(last(p.field) ?? '')),
  );
  const note = notes[form];
  return html`${
    rest.length
      ? html`<p class="error" role="alert" id=${`${form}-error`}>${rest.map(problemLine)}</p>`
      : nothing
  }${note ? html`<p class="note" role="status" id=${`${form}-note`}>${note}</p>` : nothing}`;
}

export const busy = new Set<string>();

/** Runs a form's action; its problems (or its note) show beside the form. */
export async function act(form: string, fn: () => Promise<unknown>): Promise<void> {
  problems[form] = [];
  delete notes[form];
  busy.add(form);
  rerender();
  try {
    const note = await fn();
    if (typeof note === 'string' && note) notes[form] = note;
  } catch (err) {
    problems[form] =
      err instanceof ApiError ? err.problems : [{ code: 'ERROR', message: (err as Error).message }];
  } finally {
    busy.delete(form);
    rerender();
  }
}

/** A labelled text input whose errors show below it. */
export function textField(
  form: string,
  name: string,
  label: string,
  value: string | null | undefined,
  opts: { type?: string; required?: boolean; aliases?: string[]; disabled?: boolean; hint?: string } = {},
) {
  const id = `${form}-${name}`;
  const names = [name, ...(opts.aliases ?? [])];
  return html`<div class="field">
    <label for=${id}>${label}</label>
    <input id=${id} name=${name} type=${opts.type ?? 'text'} .value=${value ?? ''}
      ?required=${opts.required ?? false} ?disabled=${opts.disabled ?? false}
      autocomplete="off" spellcheck="false" aria-describedby=${`${form}-${name}-error`}>
    ${opts.hint ? html`<small>${opts.hint}</small>` : nothing}
    ${fieldError(form, names)}
  </div>`;
}

export function checkbox(form: string, name: string, label: string, checked: boolean, disabled = false) {
  const id = `${form}-${name}`;
  return html`<div class="check"><input type="checkbox" id=${id} name=${name} .checked=${checked}
    ?disabled=${disabled}><label for=${id}>${label}</label>${fieldError(form, [name])}</div>`;
}

export function select(
  form: string,
  name: string,
  label: string,
  options: readonly string[],
  value: string | null | undefined,
  opts: { disabled?: boolean; aliases?: string[]; empty?: string } = {},
) {
  const id = `${form}-${name}`;
  return html`<div class="field"><label for=${id}>${label}</label>
    <select id=${id} name=${name} ?disabled=${opts.disabled ?? false}>
      ${opts.empty !== undefined ? html`<option value="" ?selected=${!value}>${opts.empty}</option>` : nothing}
      ${options.map((o) => html`<option value=${o} ?selected=${o === value}>${o}</option>`)}
    </select>${fieldError(form, [name, ...(opts.aliases ?? [])])}</div>`;
}

/** A group of checkboxes with one name (multiple choice). */
export function checkGroup(
  form: string,
  name: string,
  legend: string,
  options: readonly string[],
  chosen: readonly string[] | null | undefined,
  disabled = false,
) {
  return html`<fieldset><legend>${legend}</legend>
    ${options.map(
      (o) => html`<span class="check"><input type="checkbox" id=${`${form}-${name}-${o}`} name=${name}
        value=${o} .checked=${(chosen ?? []).includes(o)} ?disabled=${disabled}><label
        for=${`${form}-${name}-${o}`}>${o}</label></span>`,
    )}${fieldError(form, [name])}</fieldset>`;
}

/** One object a picker offers: its id (what the API takes) and what the admin reads. */
export interface PickOption {
  id: string;
  label: string;
}

/** Each picker's state, by key: what is chosen, the names seen, and the last search's answer. */
const picks = new Map<
  string,
  { chosen: Set<string>; labels: Map<string, string>; found: PickOption[]; error: string | null }
>();

/**
 * Directory objects chosen by name (groups, shared mailboxes): checkboxes that carry their ids,
 * with a search that asks the API (Enter), so that a directory of thousands needs no typed ids.
 * The chosen ones stay listed whatever the search shows; `picked(key)` reads them at saving.
 */
export function picker(
  key: string,
  legend: string,
  initial: readonly string[] | null | undefined,
  search: (q: string) => Promise<PickOption[]>,
  disabled = false,
) {
  let p = picks.get(key);
  const run = async (q: string) => {
    const state = picks.get(key);
    if (!state) return;
    try {
      state.found = await search(q);
      state.error = null;
      for (const o of state.found) state.labels.set(o.id, o.label);
    } catch (err) {
      state.error =
        err instanceof ApiError ? err.problems.map((x) => x.code).join(', ') : (err as Error).message;
    }
    rerender();
  };
  if (!p) {
    p = { chosen: new Set(initial ?? []), labels: new Map(), found: [], error: null };
    picks.set(key, p);
    void run('');
  }
  const state = p;
  const shown = [...new Set([...state.chosen, ...state.found.map((o) => o.id)])];
  return html`<fieldset class="picker"><legend>${legend}</legend>
    <label for=${`${key}-search`}>Search: ${legend}</label>
    <input id=${`${key}-search`} type="search" ?disabled=${disabled} @keydown=${(e: KeyboardEvent) => {
      if (e.key !== 'Enter') return;
      e.preventDefault();
      void run((e.target as HTMLInputElement).value);
    }}>
    ${state.error ? html`<p class="error" role="alert">${state.error}</p>` : nothing}
    ${shown.map(
      (id, i) => html`<span class="check"><input type="checkbox" id=${`${key}-${i}`} value=${id}
        .checked=${state.chosen.has(id)} ?disabled=${disabled} @change=${(e: Event) => {
          if ((e.target as HTMLInputElement).checked) state.chosen.add(id);
          else state.chosen.delete(id);
        }}><label for=${`${key}-${i}`}>${state.labels.get(id) ?? id}</label></span>`,
    )}</fieldset>`;
}

/** The ids a picker holds chosen. */
export const picked = (key: string) => [...(picks.get(key)?.chosen ?? [])];

/** Forgets the pickers of a form (after its rule was loaded again: they start from what is saved). */
export const resetPickers = (prefix: string) => {
  for (const key of [...picks.keys()]) if (key.startsWith(prefix)) picks.delete(key);
};

/** A value with a button that copies it. */
export function copyable(label: string, value: string | null | undefined, id: string) {
  if (!value) return html`<p>${label}: <em>none yet</em></p>`;
  return html`<div class="copy"><label for=${id}>${label}</label>
    <input id=${id} readonly .value=${value}>
    <button type="button" aria-label=${`Copy ${label}`} @click=${(e: Event) => copy(value, e)}>Copy</button></div>`;
}

async function copy(value: string, e: Event) {
  const button = e.currentTarget as HTMLButtonElement;
  try {
    await navigator.clipboard.writeText(value);
    button.textContent = 'Copied';
  } catch {
    // No clipboard (an insecure origin): select the text for Ctrl+C.
    (button.previousElementSibling as HTMLInputElement | null)?.select();
    button.textContent = 'Selected: press Ctrl+C';
  }
}

export const formValues = (e: Event) => {
  e.preventDefault();
  return new FormData(e.currentTarget as HTMLFormElement);
};
export const str = (f: FormData, name: string) => {
  const v = f.get(name);
  return typeof v === 'string' && v.trim() ? v.trim() : null;
};
export const bool = (f: FormData, name: string) => f.get(name) === 'on';
export const list = (f: FormData, name: string) => f.getAll(name).map(String);

export const when = (iso: string | null | undefined) => (iso ? new Date(iso).toLocaleString() : '—');
