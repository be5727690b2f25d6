/**
 * #/workers — each worker's state, backend, device (and for webgpu its GPU adapter: name,
 * route, a software marker, limits), trial and rank, step time, heartbeat.
 */
import type { WorkerSnapshot } from '../api.js';
import { api } from '../api.js';
import { debounce, h, replace, routeLink } from '../dom.js';
import { adapterLimits, adapterName, fmtValue, timeAgo } from '../format.js';
import { badge, errorBox, type Page, type PageContext } from '../widgets.js';

/** The Device cell: the backend's device line, then the adapter block when there is one. */
function deviceCell(w: WorkerSnapshot): HTMLElement {
  // `?? null`: a snapshot written before adapters were recorded has no such field.
  const a = w.adapter ?? null;
  if (a === null) return h('td', { 'data-testid': 'worker-device' }, w.device);
  return h(
    'td',
    { 'data-testid': 'worker-device' },
    w.device,
    h(
      'div',
      {
        class: 'adapter',
        'data-testid': 'worker-adapter',
        'data-route': a.route,
        'data-software': String(a.software),
        title: a.description,
      },
      h('div', {}, h('span', { 'data-testid': 'adapter-name' }, adapterName(a))),
      h(
        'div',
        {},
        h('span', { class: 'badge', 'data-testid': 'adapter-route' }, a.route),
        a.software
          ? [
              ' ',
              h(
                'span',
                {
                  class: 'badge adapter-software',
                  'data-testid': 'adapter-software',
                  title: 'a CPU rasteriser: correct, but no faster than a CPU',
                },
                'software',
              ),
            ]
          : null,
      ),
      h('div', { class: 'muted', 'data-testid': 'adapter-limits' }, adapterLimits(a)),
    ),
  );
}

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
          deviceCell(w),
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
