/** #/ — every sweep: state, progress of its trials, best metric. Refreshes on sweep/trial changes. */
import { api } from '../api.js';
import { debounce, h, replace, routeLink } from '../dom.js';
import { fmtTime, fmtValue } from '../format.js';
import { badge, errorBox, progressBar, type Page, type PageContext } from '../widgets.js';

export function sweepsPage(ctx: PageContext): Page {
  const body = h('tbody');
  const status = h('p', { class: 'muted' }, 'Loading…');
  replace(
    ctx.root,
    h('h1', {}, 'Sweeps'),
    status,
    h(
      'table',
      { class: 'table', 'data-testid': 'sweeps-table' },
      h(
        'thead',
        {},
        h(
          'tr',
          {},
          ['Sweep', 'State', 'Progress', 'Best', 'Metric', 'Created'].map((t) => h('th', {}, t)),
        ),
      ),
      body,
    ),
  );

  let disposed = false;
  async function load(): Promise<void> {
    try {
      const { sweeps } = await api.sweeps();
      if (disposed) return;
      status.textContent = sweeps.length ? `${sweeps.length} sweeps` : 'No sweeps yet.';
      replace(
        body,
        sweeps.map((s) =>
          h(
            'tr',
            { 'data-testid': 'sweep-row', 'data-sweep-id': s.id },
            h('td', {}, routeLink(s.name || s.id, 'sweeps', s.id), h('div', { class: 'id' }, s.id)),
            h('td', {}, badge(s.state)),
            h('td', {}, progressBar(s.counts)),
            h('td', { class: 'num' }, fmtValue(s.best?.value)),
            h('td', {}, `${s.metric.name} (${s.metric.goal === 'minimize' ? 'min' : 'max'})`),
            h('td', {}, fmtTime(s.createdAt)),
          ),
        ),
      );
    } catch (err) {
      if (!disposed) replace(status, errorBox(err));
    }
  }
  const refresh = debounce(() => void load(), 500);
  const off = ctx.live.on((e) => {
    if (e.kind === 'sweep' || e.kind === 'resync' || (e.kind === 'trial' && e.sweepId !== null)) {
      refresh();
    }
  });
  void load();
  return {
    dispose() {
      disposed = true;
      refresh.cancel();
      off();
    },
  };
}
