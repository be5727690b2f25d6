/**
 * #/sweeps/:id — one sweep: its state and actions, the trials table (sorted, filtered and paged
 * by the server, so a thousand trials cost one page), parallel coordinates of params vs the
 * metric, best-so-far over time and hyperparameter importance.
 */
import type { SweepAction, SweepRecord, TrialRecord, TrialState } from '../api.js';
import { api, ApiError } from '../api.js';
import { Chart, renderBestHistory, renderImportance, renderParallel } from '../charts.js';
import { debounce, h, replace, routeLink } from '../dom.js';
import { fmtParam, fmtTime, fmtValue } from '../format.js';
import {
  badge,
  errorBox,
  errorText,
  haveAdminToken,
  progressBar,
  type Page,
  type PageContext,
} from '../widgets.js';

const TRIAL_STATES: TrialState[] = [
  'queued',
  'running',
  'completed',
  'pruned',
  'failed',
  'cancelled',
];
const PAGE_SIZE = 100;

interface Column {
  title: string;
  /** The API's sort key (TrialQuery.sort); absent: not sortable. */
  sort?: string;
  cell(t: TrialRecord): Node | string | number;
  num?: boolean;
}

export function sweepPage(ctx: PageContext, sweepId: string): Page {
  let disposed = false;
  let sweep: SweepRecord | null = null;
  const query = {
    sort: 'number',
    order: 'asc' as 'asc' | 'desc',
    states: new Set<TrialState>(),
    q: '',
    offset: 0,
  };

  // Header and actions.
  const title = h('h1', {}, 'Sweep ', h('span', { class: 'id' }, sweepId));
  const summary = h('div', { class: 'summary' }, 'Loading…');
  const actionStatus = h('p', {
    class: 'action-status',
    'data-testid': 'action-status',
    role: 'status',
    'aria-live': 'polite',
  });
  const buttons: Record<SweepAction, HTMLButtonElement> = {
    pause: h('button', { 'data-testid': 'sweep-pause', onclick: () => void act('pause') }, 'Pause'),
    resume: h(
      'button',
      { 'data-testid': 'sweep-resume', onclick: () => void act('resume') },
      'Resume',
    ),
    cancel: h(
      'button',
      { class: 'danger', 'data-testid': 'sweep-cancel', onclick: () => void act('cancel') },
      'Cancel sweep',
    ),
  };
  // Only an ended sweep can be deleted (the API says why otherwise): shown disabled until then.
  const deleteButton = h(
    'button',
    {
      class: 'danger',
      'data-testid': 'sweep-delete',
      disabled: true,
      onclick: () => void remove(),
    },
    'Delete sweep',
  );

  // Filters.
  const search = h('input', {
    type: 'search',
    placeholder: 'Filter: id, config, state, params, error…',
    'data-testid': 'trial-filter',
    'aria-label': 'free-text filter',
  });
  const onSearch = debounce(() => {
    query.q = search.value.trim();
    query.offset = 0;
    void loadTrials();
  }, 250);
  search.addEventListener('input', onSearch);
  const stateBoxes = TRIAL_STATES.map((s) => {
    const box = h('input', { type: 'checkbox', value: s, 'data-testid': `filter-${s}` });
    box.addEventListener('change', () => {
      if (box.checked) query.states.add(s);
      else query.states.delete(s);
      query.offset = 0;
      void loadTrials();
    });
    return h('label', { class: 'chip' }, box, ' ', s);
  });

  // Table and pager.
  const thead = h('thead');
  const tbody = h('tbody');
  const pager = h('div', { class: 'pager' });
  const tableStatus = h('p', { class: 'muted' });

  // Charts.
  const parallelEl = h('div', { class: 'chart chart-tall', 'data-testid': 'parallel-chart' });
  const bestEl = h('div', { class: 'chart', 'data-testid': 'best-history-chart' });
  const importanceEl = h('div', { class: 'chart', 'data-testid': 'importance-chart' });
  const importanceNote = h('figcaption', {}, 'Hyperparameter importance');
  const parallel = new Chart(parallelEl);
  const best = new Chart(bestEl);
  const importance = new Chart(importanceEl);
  const chartStatus = h('p', { class: 'muted' });
  const eventsList = h('ul', { class: 'events' });
  // Hidden until a trial has a metric: empty axes say nothing (the charts follow the
  // element's size, so they draw once shown).
  const analysisGrid = h(
    'div',
    { class: 'grid' },
    h('figure', { class: 'figure wide' }, h('figcaption', {}, 'Parameters vs metric'), parallelEl),
    h('figure', { class: 'figure' }, h('figcaption', {}, 'Best so far'), bestEl),
    h('figure', { class: 'figure' }, importanceNote, importanceEl),
  );

  replace(
    ctx.root,
    title,
    summary,
    h(
      'div',
      { class: 'actions' },
      buttons.pause,
      buttons.resume,
      buttons.cancel,
      deleteButton,
      actionStatus,
    ),
    h('h2', {}, 'Trials'),
    h('div', { class: 'filters' }, search, stateBoxes),
    tableStatus,
    h(
      'div',
      { class: 'table-wrap' },
      h('table', { class: 'table', 'data-testid': 'trials-table' }, thead, tbody),
    ),
    pager,
    h('h2', {}, 'Analysis'),
    chartStatus,
    analysisGrid,
    h('h2', {}, 'Sweep events'),
    eventsList,
  );

  function columns(trials: TrialRecord[]): Column[] {
    const paramNames = [...new Set(trials.flatMap((t) => Object.keys(t.params)))].sort();
    return [
      {
        title: '#',
        sort: 'number',
        num: true,
        cell: (t) => routeLink(String(t.number), 'trials', t.id),
      },
      { title: 'State', sort: 'state', cell: (t) => badge(t.state) },
      ...paramNames.map((p): Column => ({
        title: p,
        sort: `param:${p}`,
        cell: (t) => fmtParam(t.params[p]),
      })),
      { title: 'Seed', num: true, cell: (t) => t.seed },
      { title: 'Epochs', sort: 'epochs', num: true, cell: (t) => t.epochs },
      { title: 'Best', sort: 'bestValue', num: true, cell: (t) => fmtValue(t.bestValue) },
      { title: 'Last', sort: 'lastValue', num: true, cell: (t) => fmtValue(t.lastValue) },
      {
        title: 'Workers',
        cell: (t) => t.placement.map((p) => `${p.rank}:${p.workerName}`).join(' ') || '—',
      },
      { title: 'Created', sort: 'createdAt', cell: (t) => fmtTime(t.createdAt) },
    ];
  }

  function renderTable(trials: TrialRecord[], total: number): void {
    const cols = columns(trials);
    replace(
      thead,
      h(
        'tr',
        {},
        cols.map((c) => {
          if (!c.sort) return h('th', {}, c.title);
          const key = c.sort;
          const active = query.sort === key;
          return h(
            'th',
            {
              class: 'sortable' + (active ? ' sorted' : ''),
              'aria-sort': active ? (query.order === 'asc' ? 'ascending' : 'descending') : 'none',
              'data-sort': key,
              tabindex: 0,
              onclick: () => {
                query.order = active && query.order === 'asc' ? 'desc' : 'asc';
                query.sort = key;
                query.offset = 0;
                void loadTrials();
              },
            },
            c.title,
            active ? (query.order === 'asc' ? ' ▲' : ' ▼') : '',
          );
        }),
      ),
    );
    replace(
      tbody,
      trials.map((t) =>
        h(
          'tr',
          {
            'data-testid': 'trial-row',
            'data-trial-id': t.id,
            'data-number': t.number,
            class: `row-${t.state}`,
          },
          cols.map((c) => h('td', { class: c.num ? 'num' : null }, c.cell(t))),
        ),
      ),
    );
    const first = total === 0 ? 0 : query.offset + 1;
    const last = query.offset + trials.length;
    tableStatus.textContent = `${first}–${last} of ${total} trials`;
    replace(
      pager,
      h(
        'button',
        {
          disabled: query.offset === 0,
          onclick: () => {
            query.offset = Math.max(0, query.offset - PAGE_SIZE);
            void loadTrials();
          },
        },
        '← Previous',
      ),
      h(
        'button',
        {
          disabled: last >= total,
          onclick: () => {
            query.offset += PAGE_SIZE;
            void loadTrials();
          },
        },
        'Next →',
      ),
    );
  }

  function renderSummary(s: SweepRecord, counts: Parameters<typeof progressBar>[0]): void {
    sweep = s;
    replace(title, s.name || s.id, ' ', badge(s.state));
    replace(
      summary,
      h(
        'dl',
        { class: 'facts' },
        h('dt', {}, 'Id'),
        h('dd', {}, s.id),
        h('dt', {}, 'Metric'),
        h('dd', {}, `${s.metric.name} (${s.metric.goal})`),
        h('dt', {}, 'Best'),
        h(
          'dd',
          { 'data-testid': 'sweep-best' },
          s.best ? `${fmtValue(s.best.value)} (config ${s.best.configKey})` : '—',
        ),
        h('dt', {}, 'Configs'),
        h('dd', {}, `cap ${s.runCap} × seeds [${s.seeds.join(', ')}]`),
        h('dt', {}, 'Workers per trial'),
        h('dd', {}, s.workersPerTrial),
        h('dt', {}, 'Created'),
        h('dd', {}, fmtTime(s.createdAt)),
      ),
      progressBar(counts),
    );
    buttons.pause.disabled = s.state !== 'running';
    buttons.resume.disabled = s.state !== 'paused';
    buttons.cancel.disabled = s.state !== 'running' && s.state !== 'paused';
    deleteButton.disabled = s.state !== 'finished' && s.state !== 'cancelled';
  }

  async function loadSummary(): Promise<void> {
    try {
      const { sweep: s, counts } = await api.sweep(sweepId);
      if (!disposed) renderSummary(s, counts);
    } catch (err) {
      if (!disposed) replace(summary, errorBox(err));
    }
  }

  let trialsSeq = 0;
  async function loadTrials(): Promise<void> {
    // Answers can arrive out of order when the user clicks fast: keep only the newest.
    const seq = ++trialsSeq;
    try {
      const res = await api.sweepTrials(sweepId, {
        sort: query.sort,
        order: query.order,
        state: [...query.states],
        q: query.q,
        offset: query.offset,
        limit: PAGE_SIZE,
      });
      if (!disposed && seq === trialsSeq) renderTable(res.trials, res.total);
    } catch (err) {
      if (!disposed && seq === trialsSeq) replace(tableStatus, errorBox(err));
    }
  }

  async function loadAnalysis(): Promise<void> {
    try {
      const [par, hist, imp, ev] = await Promise.all([
        api.parallel(sweepId),
        api.bestHistory(sweepId),
        api.importance(sweepId),
        api.sweepEvents(sweepId),
      ]);
      if (disposed) return;
      const goal = sweep?.metric.goal ?? 'minimize';
      renderParallel(parallel, par, goal);
      parallelEl.setAttribute('data-points', String(par.rows.length));
      renderBestHistory(best, hist.points, par.metric);
      renderImportance(importance, imp.params);
      importanceNote.textContent =
        `Hyperparameter importance (${imp.method === 'spearman' ? '|Spearman ρ|' : imp.method}` +
        ` with the metric over finished trials, normalised to sum 1)`;
      const n = par.rows.length;
      analysisGrid.hidden = n === 0;
      chartStatus.textContent =
        n === 0
          ? 'No trial has a metric yet: the charts appear with the first evaluated epoch.'
          : `${n} ${n === 1 ? 'trial' : 'trials'} with a metric`;
      replace(
        eventsList,
        ev.events
          .slice(-50)
          .reverse()
          .map((e) =>
            h('li', {}, h('time', {}, fmtTime(e.at)), ' ', badge(e.type), ' ', e.message),
          ),
      );
    } catch (err) {
      if (!disposed) replace(chartStatus, errorBox(err));
    }
  }

  async function act(action: SweepAction): Promise<void> {
    if (action === 'cancel' && !confirm('Cancel this sweep? Queued trials are dropped.')) return;
    if (!(await haveAdminToken(`${action} the sweep`))) return;
    actionStatus.className = 'action-status';
    actionStatus.textContent = `${action}…`;
    try {
      const { sweep: s } = await api.sweepAction(sweepId, action);
      actionStatus.textContent = `Sweep is ${s.state}.`;
      actionStatus.classList.add('ok');
      void loadSummary();
    } catch (err) {
      // The API's own text: 401 (token missing or wrong, now forgotten) or 409 (wrong state).
      actionStatus.textContent = `Could not ${action}: ${errorText(err)}`;
      actionStatus.classList.add('error');
      // A 409 means the state moved under us: show the current one.
      if (err instanceof ApiError && err.status === 409) void loadSummary();
    }
  }

  async function remove(): Promise<void> {
    if (!confirm('Delete this sweep, its trials and every checkpoint they kept? There is no undo.'))
      return;
    if (!(await haveAdminToken('delete the sweep'))) return;
    actionStatus.className = 'action-status';
    actionStatus.textContent = 'deleting…';
    try {
      const { deleted } = await api.deleteSweep(sweepId);
      actionStatus.textContent =
        `Sweep deleted: ${deleted.trials} trials, ${deleted.checkpoints} checkpoint files ` +
        `(${(deleted.freedBytes / 2 ** 20).toFixed(1)} MiB).`;
      actionStatus.classList.add('ok');
      actionStatus.append(' ', routeLink('Back to the sweeps', 'sweeps'));
      sweepDeleted = true;
      for (const b of [...Object.values(buttons), deleteButton]) b.disabled = true;
    } catch (err) {
      // The API's own text: 401, or 409 naming what to do (cancel first, trials still ending).
      actionStatus.textContent = `Could not delete: ${errorText(err)}`;
      actionStatus.classList.add('error');
    }
  }

  // Once deleted, the page stays as it was (with the outcome) instead of refetching 404s.
  let sweepDeleted = false;
  const refreshAll = debounce(() => {
    if (sweepDeleted) return;
    void loadSummary();
    void loadTrials();
    void loadAnalysis();
  }, 1000);
  const off = ctx.live.on((e) => {
    if (
      e.kind === 'resync' ||
      ((e.kind === 'sweep' || e.kind === 'trial') && e.sweepId === sweepId)
    ) {
      refreshAll();
    }
  });

  void loadSummary().then(() => loadAnalysis());
  void loadTrials();

  return {
    dispose() {
      disposed = true;
      refreshAll.cancel();
      onSearch.cancel();
      off();
      parallel.dispose();
      best.dispose();
      importance.dispose();
    },
  };
}
