/** #/workers — each worker's state, backend, device, trial and rank, step time, heartbeat. */
import type { WorkerSnapshot } from '../api.js';
import { api } from '../api.js';
import { debounce, h, replace, routeLink } from '../dom.js';
import { fmtValue, timeAgo } from '../format.js';
import { badge, errorBox, type Page, type PageContext } from '../widgets.js';

export function workersPage(ctx: PageContext): Page {
  const body = h('tbody');
  const status = h('p', { class: 'muted' }, 'Loading…');
  replace(
    ctx.root,
    h('h1', {}, 'Workers'),
    status,
    h(
      'table',
      { class: 'table', 'data-testid': 'workers-table' },
      h(
        'thead',
        {},
        h(
          'tr',
          {},
          [
            'Worker',
            'State',
            'Backend',
            'Device',
            'Trial',
            'Rank',
            'Step',
            'Step time',
            'Throughput',
            'Last heartbeat',
            'Version',
          ].map((t) => h('th', {}, t)),
        ),
      ),
      body,
    ),
  );

  let workers: WorkerSnapshot[] = [];
  const agoCells: { cell: HTMLElement; at: number }[] = [];
  let disposed = false;

  function render(): void {
    agoCells.length = 0;
    const now = Date.now();
    status.textContent = workers.length
      ? `${workers.length} workers · ${workers.filter((w) => w.state === 'training').length} training`
      : 'No workers have joined.';
    replace(
      body,
      workers.map((w) => {
        const ago = h('td', { 'data-testid': 'worker-heartbeat' }, timeAgo(w.lastHeartbeat, now));
        agoCells.push({ cell: ago, at: w.lastHeartbeat });
        return h(
          'tr',
          { 'data-testid': 'worker-row', 'data-worker-id': w.id },
          h('td', {}, w.name, h('div', { class: 'id' }, w.id)),
          h('td', {}, badge(w.state)),
          h('td', {}, w.backend),
          h('td', {}, w.device),
          h('td', {}, w.trialId === null ? '—' : routeLink(w.trialId, 'trials', w.trialId)),
          h('td', { class: 'num' }, w.rank ?? '—'),
          h('td', { class: 'num' }, w.step),
          h('td', { class: 'num' }, w.stepTimeMs > 0 ? `${fmtValue(w.stepTimeMs)} ms` : '—'),
          h(
            'td',
            { class: 'num' },
            w.samplesPerSecond === null ? '—' : `${fmtValue(w.samplesPerSecond)} samples/s`,
          ),
          ago,
          h('td', {}, w.version),
        );
      }),
    );
  }

  async function load(): Promise<void> {
    try {
      const res = await api.workers();
      if (disposed) return;
      workers = res.workers;
      render();
    } catch (err) {
      if (!disposed) replace(status, errorBox(err));
    }
  }
  // "3 s ago" must keep counting between snapshots: rewrite only those cells each second.
  const tick = setInterval(() => {
    const now = Date.now();
    for (const { cell, at } of agoCells) cell.textContent = timeAgo(at, now);
  }, 1000);
  const refresh = debounce(() => void load(), 300);
  const off = ctx.live.on((e) => {
    if (e.kind === 'workers' || e.kind === 'resync') refresh();
  });
  void load();
  return {
    dispose() {
      disposed = true;
      clearInterval(tick);
      refresh.cancel();
      off();
    },
  };
}
