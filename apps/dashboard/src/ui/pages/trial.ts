/**
 * #/trials/:id — one trial: live step curves (every curve the API has for it: train/loss,
 * train/nce, train/lld, H, lr/...), valid/test MAE and Acc-2 per epoch, the per-epoch table,
 * config, placement, events and checkpoint downloads.
 *
 * Live: the first load takes each curve downsampled by the server (maxPoints). Then on a
 * `points` change for this trial the page asks only for points after each curve's cursor and
 * appends them, batching events that arrive close together. A `trial` change refetches the
 * record, epochs and events.
 */
import type { Curve, EpochEntry, MetricInfo, TrialDetail } from '../api.js';
import { api } from '../api.js';
import { LineFigure } from '../charts.js';
import { h, replace, routeLink } from '../dom.js';
import { curveOrder, fmtBytes, fmtMetric, fmtSeconds, fmtTime, fmtValue } from '../format.js';
import {
  badge,
  errorBox,
  errorText,
  haveAdminToken,
  type Page,
  type PageContext,
} from '../widgets.js';

/** Points asked for per curve on a full load (the server downsamples to this). */
const MAX_POINTS = 1000;
/** Past this many appended points a curve is reloaded downsampled, to keep the canvas fast. */
const RELOAD_AT = 4 * MAX_POINTS;
/** Points events within this window are fetched together. */
const BATCH_MS = 200;

interface LiveCurve {
  figure: LineFigure;
  points: [number, number][];
  cursor: string;
}

export function trialPage(ctx: PageContext, trialId: string): Page {
  let disposed = false;
  const curves = new Map<string, LiveCurve>();

  const title = h('h1', {}, 'Trial ', h('span', { class: 'id' }, trialId));
  const summary = h('div', { class: 'summary' }, 'Loading…');
  const curveGrid = h('div', { class: 'grid', 'data-testid': 'curve-grid' });
  const curveStatus = h('p', { class: 'muted' });
  const maeFig = new LineFigure('MAE per epoch (valid, test)', 'epoch/mae', { xName: 'epoch' });
  const accFig = new LineFigure('Acc-2 per epoch (valid, test)', 'epoch/acc2', { xName: 'epoch' });
  const epochTable = h('div', { class: 'table-wrap' });
  const config = h('div', { class: 'config' });
  const placement = h('div');
  const events = h('ul', { class: 'events', 'data-testid': 'trial-events' });
  const checkpoints = h('div', { 'data-testid': 'checkpoints' });
  // Lone trials only: a sweep's trials end with their sweep (its page has the buttons).
  const cancelButton = h(
    'button',
    { class: 'danger', 'data-testid': 'trial-cancel', hidden: true, onclick: () => void cancel() },
    'Cancel trial',
  );
  const actionStatus = h('p', {
    class: 'action-status',
    'data-testid': 'action-status',
    role: 'status',
    'aria-live': 'polite',
  });

  replace(
    ctx.root,
    title,
    summary,
    h('div', { class: 'actions' }, cancelButton, actionStatus),
    h('h2', {}, 'Curves'),
    curveStatus,
    curveGrid,
    h('h2', {}, 'Evaluation'),
    h('div', { class: 'grid' }, maeFig.root, accFig.root),
    epochTable,
    h(
      'div',
      { class: 'columns' },
      h('section', {}, h('h2', {}, 'Placement'), placement),
      h('section', {}, h('h2', {}, 'Checkpoints'), checkpoints),
    ),
    h('h2', {}, 'Events'),
    events,
    h('h2', {}, 'Config'),
    config,
  );

  // ---- details (record, epochs, events, checkpoint) ----
  function renderDetail(d: TrialDetail, metrics: readonly MetricInfo[]): void {
    const t = d.trial;
    replace(
      title,
      t.sweepId === null ? 'Trial ' : `Trial #${t.number} `,
      h('span', { class: 'id' }, t.id),
      ' ',
      badge(t.state),
    );
    cancelButton.hidden = !(t.sweepId === null && (t.state === 'queued' || t.state === 'running'));
    replace(
      summary,
      h(
        'dl',
        { class: 'facts' },
        h('dt', {}, 'Sweep'),
        h('dd', {}, t.sweepId === null ? 'lone trial' : routeLink(t.sweepId, 'sweeps', t.sweepId)),
        h('dt', {}, 'Seed'),
        h('dd', {}, t.seed),
        h('dt', {}, 'Epochs'),
        h('dd', { 'data-testid': 'trial-epochs' }, t.epochs),
        h('dt', {}, 'Best'),
        h(
          'dd',
          {},
          `${fmtValue(t.bestValue)}${t.bestEpoch === null ? '' : ` (epoch ${t.bestEpoch})`}`,
        ),
        h('dt', {}, 'Last'),
        h('dd', {}, fmtValue(t.lastValue)),
        h('dt', {}, 'Attempts'),
        h('dd', {}, t.attempts),
        h('dt', {}, 'Started'),
        h('dd', {}, fmtTime(t.startedAt)),
        h('dt', {}, 'Ended'),
        h('dd', {}, fmtTime(t.endedAt)),
      ),
      t.error === null ? null : h('p', { class: 'error' }, `Last failure: ${t.error}`),
    );
    renderEpochs(d.epochs, metrics);
    replace(
      placement,
      t.placement.length === 0
        ? h('p', { class: 'muted' }, 'Not placed.')
        : h(
            'table',
            { class: 'table', 'data-testid': 'placement' },
            h(
              'thead',
              {},
              h('tr', {}, h('th', {}, 'Rank'), h('th', {}, 'Worker'), h('th', {}, 'Id')),
            ),
            h(
              'tbody',
              {},
              [...t.placement]
                .sort((a, b) => a.rank - b.rank)
                .map((p) =>
                  h(
                    'tr',
                    {},
                    h('td', { class: 'num' }, p.rank),
                    h('td', {}, p.workerName),
                    h('td', { class: 'id' }, p.workerId),
                  ),
                ),
            ),
          ),
    );
    replace(
      events,
      [...d.events]
        .reverse()
        .map((e) => h('li', {}, h('time', {}, fmtTime(e.at)), ' ', badge(e.type), ' ', e.message)),
    );
    const links = (['last', 'best'] as const).flatMap((kind) => {
      const c = d.checkpoint[kind];
      if (c === null) return [];
      return [
        h(
          'li',
          {},
          h(
            'a',
            {
              href: api.checkpointUrl(t.id, kind),
              download: '',
              'data-testid': `checkpoint-${kind}`,
            },
            `${kind} (epoch ${c.epoch})`,
          ),
          ` ${fmtBytes(c.bytes)}, saved ${fmtTime(c.savedAt)}, sha256 ${c.sha256.slice(0, 12)}…`,
        ),
      ];
    });
    replace(
      checkpoints,
      links.length ? h('ul', {}, links) : h('p', { class: 'muted' }, 'None stored.'),
    );
    replace(
      config,
      h('h3', {}, 'Hyperparameters'),
      h('pre', { 'data-testid': 'trial-params' }, JSON.stringify(t.params, null, 2)),
      h('h3', {}, 'Trial spec'),
      h('pre', {}, JSON.stringify(t.spec, null, 2)),
    );
  }

  function renderEpochs(epochs: EpochEntry[], metrics: readonly MetricInfo[]): void {
    const series = (split: 'valid' | 'test', key: 'mae' | 'acc2'): [number, number][] =>
      epochs.map((e) => [e.epoch, e[split][key]]);
    maeFig.setSeries([
      { name: 'valid', points: series('valid', 'mae') },
      { name: 'test', points: series('test', 'mae') },
    ]);
    accFig.setSeries([
      { name: 'valid', points: series('valid', 'acc2') },
      { name: 'test', points: series('test', 'acc2') },
    ]);
    const lrNames = [...new Set(epochs.flatMap((e) => Object.keys(e.lr)))].sort();
    // The metric columns come from the metric table (GET /api/metrics).
    const columns = (['valid', 'test'] as const).flatMap((split) =>
      metrics
        .filter((m) => m.dashboard.includes(split))
        .map((m) => ({
          split,
          metric: m,
        })),
    );
    const head = [
      'Epoch',
      'Train loss (stage 0 / 1)',
      ...columns.map((c) => `${c.split === 'valid' ? 'Valid' : 'Test'} ${c.metric.label}`),
      ...lrNames.map((n) => `lr ${n}`),
      'Time',
    ];
    replace(
      epochTable,
      epochs.length === 0
        ? h('p', { class: 'muted' }, 'No epoch finished yet.')
        : h(
            'table',
            { class: 'table', 'data-testid': 'epoch-table' },
            h(
              'thead',
              {},
              h(
                'tr',
                {},
                head.map((x) => h('th', {}, x)),
              ),
            ),
            h(
              'tbody',
              {},
              epochs.map((e) =>
                h(
                  'tr',
                  { 'data-testid': 'epoch-row' },
                  [
                    String(e.epoch),
                    `${fmtValue(e.trainLoss.stage0)} / ${fmtValue(e.trainLoss.stage1)}`,
                    ...columns.map((c) => fmtMetric(c.metric.format, e[c.split][c.metric.key])),
                    ...lrNames.map((n) => fmtValue(e.lr[n])),
                    fmtSeconds(e.seconds),
                  ].map((x, i) => h('td', { class: i === 1 ? null : 'num' }, x)),
                ),
              ),
            ),
          ),
    );
  }

  async function loadDetail(): Promise<void> {
    try {
      const [d, { metrics }] = await Promise.all([api.trial(trialId), api.metrics()]);
      if (!disposed) renderDetail(d, metrics);
    } catch (err) {
      if (!disposed) replace(summary, errorBox(err));
    }
  }

  async function cancel(): Promise<void> {
    if (!confirm('Cancel this trial? A running trial is stopped on its workers.')) return;
    if (!(await haveAdminToken('cancel the trial'))) return;
    actionStatus.className = 'action-status';
    actionStatus.textContent = 'cancel…';
    try {
      const { trial } = await api.cancelTrial(trialId);
      actionStatus.textContent = `Trial is ${trial.state}.`;
      actionStatus.classList.add('ok');
    } catch (err) {
      // The API's own text: 401 (token missing or wrong, now forgotten) or 409 (already ended).
      actionStatus.textContent = `Could not cancel: ${errorText(err)}`;
      actionStatus.classList.add('error');
    }
    void loadDetail();
  }

  // ---- curves ----
  function place(): void {
    const names = [...curves.keys()].sort((a, b) => curveOrder(a).localeCompare(curveOrder(b)));
    for (const n of names) {
      const c = curves.get(n);
      if (c) curveGrid.appendChild(c.figure.root); // moving keeps the chart instance
    }
    curveStatus.textContent = curves.size ? `${curves.size} curves` : 'No curve points yet.';
  }

  /** Full (downsampled) replace when `append` is false, else adds the points after the cursor. */
  function apply(curve: Curve, append: boolean): void {
    let c = curves.get(curve.name);
    if (!c) {
      c = {
        figure: new LineFigure(curve.name, curve.name, { xName: 'step' }),
        points: [],
        cursor: '',
      };
      curves.set(curve.name, c);
      place();
    }
    const pts = curve.points.map((p): [number, number] => [p.step, p.value]);
    c.points = append ? c.points.concat(pts) : pts;
    if (curve.cursor) c.cursor = curve.cursor;
    c.figure.setSeries([{ name: curve.name, points: c.points }]);
  }

  async function loadCurves(names?: string[]): Promise<void> {
    const res = await api.curves(
      trialId,
      names ? { names, maxPoints: MAX_POINTS } : { maxPoints: MAX_POINTS },
    );
    if (disposed) return;
    for (const c of res.curves) apply(c, false);
    if (!names) place();
  }

  const pending = new Set<string>();
  let timer: ReturnType<typeof setTimeout> | undefined;
  let inFlight = false;

  function schedule(): void {
    if (timer === undefined && !inFlight) timer = setTimeout(() => void flush(), BATCH_MS);
  }

  async function flush(): Promise<void> {
    timer = undefined;
    if (disposed || pending.size === 0) return;
    inFlight = true;
    const names = [...pending];
    pending.clear();
    try {
      const fresh = names.filter(
        (n) => !curves.has(n) || (curves.get(n)?.points.length ?? 0) > RELOAD_AT,
      );
      // Curves with the same cursor go in one request (`after` applies to every name).
      const byCursor = new Map<string, string[]>();
      for (const n of names) {
        const c = curves.get(n);
        if (!c || fresh.includes(n)) continue;
        byCursor.set(c.cursor, [...(byCursor.get(c.cursor) ?? []), n]);
      }
      const jobs: Promise<void>[] = [];
      if (fresh.length) jobs.push(loadCurves(fresh));
      for (const [cursor, group] of byCursor) {
        jobs.push(
          api.curves(trialId, { names: group, after: cursor || undefined }).then((res) => {
            if (!disposed) for (const c of res.curves) apply(c, cursor !== '');
          }),
        );
      }
      await Promise.all(jobs);
    } catch (err) {
      if (!disposed) replace(curveStatus, errorBox(err));
    } finally {
      inFlight = false;
      if (pending.size) schedule();
    }
  }

  let detailTimer: ReturnType<typeof setTimeout> | undefined;
  const off = ctx.live.on((e) => {
    const resync = e.kind === 'resync';
    if (resync || (e.kind === 'points' && e.trialId === trialId)) {
      // After a reconnect every known curve catches up from its cursor.
      for (const n of resync ? curves.keys() : e.names) pending.add(n);
      schedule();
    }
    if ((resync || (e.kind === 'trial' && e.trialId === trialId)) && detailTimer === undefined) {
      detailTimer = setTimeout(() => {
        detailTimer = undefined;
        void loadDetail();
      }, 300);
    }
  });

  void loadDetail();
  loadCurves().catch((err: unknown) => {
    if (!disposed) replace(curveStatus, errorBox(err));
  });

  return {
    dispose() {
      disposed = true;
      off();
      if (timer !== undefined) clearTimeout(timer);
      if (detailTimer !== undefined) clearTimeout(detailTimer);
      for (const c of curves.values()) c.figure.dispose();
      maeFig.dispose();
      accFig.dispose();
    },
  };
}
