/** Small pieces the pages share: state badges, the progress bar, error text, the token dialog. */
import type { TrialCounts } from '@mmim/experiments';
import { ApiError, getToken, setToken } from './api.js';
import type { Live } from './live.js';
import { h } from './dom.js';

export interface PageContext {
  live: Live;
  root: HTMLElement;
}

/** A mounted page: the router disposes it (charts, timers, subscriptions) when leaving. */
export interface Page {
  dispose(): void;
}

export function badge(state: string): HTMLElement {
  return h('span', { class: `badge state-${state}` }, state);
}

/** Done (completed + failed + cancelled), running, queued and pruned as one stacked bar. */
export function progressBar(counts: TrialCounts): HTMLElement {
  const parts: [string, number][] = [
    ['completed', counts.completed],
    ['failed', counts.failed + counts.cancelled],
    ['pruned', counts.pruned],
    ['running', counts.running],
    ['queued', counts.queued],
  ];
  const total = parts.reduce((n, [, c]) => n + c, 0);
  const bar = h('div', {
    class: 'progress',
    role: 'img',
    'aria-label': parts.map(([k, c]) => `${c} ${k}`).join(', '),
  });
  for (const [kind, n] of parts) {
    if (n === 0) continue;
    const seg = h('span', { class: `seg seg-${kind}`, title: `${n} ${kind}` });
    // CSSOM writes are allowed under the CSP (only style attributes in markup are not).
    seg.style.flexGrow = String(n / Math.max(total, 1));
    bar.appendChild(seg);
  }
  const done = counts.completed + counts.failed + counts.cancelled;
  const text = `${done} done · ${counts.running} running · ${counts.queued} queued · ${counts.pruned} pruned`;
  return h('div', { class: 'progress-cell' }, bar, h('span', { class: 'progress-text' }, text));
}

export function errorText(err: unknown): string {
  if (err instanceof ApiError) return `${err.message} (HTTP ${err.status})`;
  return err instanceof Error ? err.message : String(err);
}

export function errorBox(err: unknown): HTMLElement {
  return h('p', { class: 'error', role: 'alert', 'data-testid': 'page-error' }, errorText(err));
}

/**
 * Asks for the admin token in a modal <dialog>. Resolves to the text entered ('' when left
 * empty: the call then goes without a token and the API's 401 is shown), or null on cancel.
 */
/**
 * True once a mutation may be sent: the tab already keeps an admin token, or one was asked for
 * now (an empty answer sends none, and the API's 401 says so). False: the user cancelled.
 */
export async function haveAdminToken(purpose: string): Promise<boolean> {
  if (getToken() !== null) return true;
  const token = await askToken(`To ${purpose}, enter the coordinator's admin token.`);
  if (token === null) return false;
  if (token !== '') setToken(token);
  return true;
}

export function askToken(reason: string): Promise<string | null> {
  const input = h('input', {
    type: 'password',
    name: 'token',
    autocomplete: 'off',
    'data-testid': 'token-input',
    'aria-label': 'admin token',
  });
  const dialog = h(
    'dialog',
    { class: 'token-dialog', 'data-testid': 'token-dialog' },
    h(
      'form',
      { method: 'dialog' },
      h('p', {}, reason),
      h('label', {}, 'Admin token ', input),
      h(
        'p',
        { class: 'hint' },
        'Kept in this tab only (sessionStorage) and sent as a Bearer header.',
      ),
      h(
        'menu',
        {},
        h('button', { value: 'cancel', type: 'submit', 'data-testid': 'token-cancel' }, 'Cancel'),
        h('button', { value: 'ok', type: 'submit', 'data-testid': 'token-ok' }, 'Send'),
      ),
    ),
  );
  document.body.appendChild(dialog);
  return new Promise((resolve) => {
    dialog.addEventListener('close', () => {
      const value = dialog.returnValue === 'ok' ? input.value.trim() : null;
      dialog.remove();
      resolve(value);
    });
    dialog.showModal();
    input.focus();
  });
}
