/**
 * Charts. ECharts, and only the parts we use, registered with echarts/core so the bundle
 * carries line, parallel and bar series, their components and the canvas renderer, not the
 * whole library.
 *
 * Why ECharts: one well-kept library (Apache, active releases, TypeScript types shipped) draws
 * all three views the dashboard needs — line curves, parallel coordinates and bars. uPlot is
 * smaller and faster for lines but has no parallel coordinates; Plotly has everything but is
 * several MB. ECharts' canvas renderer handles the few thousand points per curve the server
 * sends (it downsamples), and it sets element styles through the CSSOM, which the
 * `default-src 'self'` CSP allows. Tooltips use `renderMode: 'richText'` (drawn on the
 * canvas) so no HTML is built from data and no inline style attribute is needed.
 */
import type { EChartsCoreOption, EChartsType } from 'echarts/core';
import { init, use } from 'echarts/core';
import { BarChart, LineChart, ParallelChart } from 'echarts/charts';
import {
  DataZoomInsideComponent,
  GridComponent,
  LegendComponent,
  ParallelComponent,
  TooltipComponent,
  VisualMapContinuousComponent,
} from 'echarts/components';
import { CanvasRenderer } from 'echarts/renderers';
import { h } from './dom.js';
import { fmtValue } from './format.js';

use([
  LineChart,
  ParallelChart,
  BarChart,
  GridComponent,
  LegendComponent,
  ParallelComponent,
  TooltipComponent,
  VisualMapContinuousComponent,
  DataZoomInsideComponent,
  CanvasRenderer,
]);

// The loose option type: ComposeOption's index signature rejects valid mixes of components.
type Option = EChartsCoreOption;

/** An ECharts instance on `el` that follows the element's size; dispose() when leaving. */
export class Chart {
  readonly chart: EChartsType;
  private readonly resize: ResizeObserver;

  constructor(readonly el: HTMLElement) {
    this.chart = init(el, undefined, { renderer: 'canvas' });
    this.resize = new ResizeObserver(() => this.chart.resize());
    this.resize.observe(el);
  }

  set(option: Option, replace = false): void {
    this.chart.setOption(option, { notMerge: replace, lazyUpdate: true });
  }

  dispose(): void {
    this.resize.disconnect();
    this.chart.dispose();
  }
}

const TOOLTIP = { renderMode: 'richText', confine: true } as const;

export interface LineSeries {
  name: string;
  points: [number, number][];
}

/**
 * A titled line chart (one curve, or a few series sharing an axis). The chart element carries
 * `data-testid="curve-<testName>"` and `data-points` = points plotted now, so a test (or a
 * person with devtools) can watch a curve grow.
 */
export class LineFigure {
  readonly root: HTMLElement;
  private readonly chart: Chart;

  constructor(title: string, testName: string, opts: { xName: string; xTime?: boolean }) {
    const el = h('div', {
      class: 'chart',
      'data-testid': `curve-${testName}`,
      'data-points': '0',
    });
    this.root = h('figure', { class: 'figure' }, h('figcaption', {}, title), el);
    this.chart = new Chart(el);
    this.chart.set({
      grid: { left: 56, right: 16, top: 28, bottom: 28 },
      tooltip: { ...TOOLTIP, trigger: 'axis' },
      legend: { top: 0, type: 'plain' },
      xAxis: {
        type: opts.xTime ? 'time' : 'value',
        name: opts.xName,
        nameLocation: 'end',
        nameGap: 4,
        scale: true,
        max: 'dataMax',
        // Epochs and steps are whole numbers.
        minInterval: 1,
      },
      yAxis: { type: 'value', scale: true, axisLabel: { formatter: (v: number) => fmtValue(v) } },
      dataZoom: [{ type: 'inside', xAxisIndex: 0 }],
      series: [],
    });
  }

  setSeries(series: LineSeries[]): void {
    this.chart.set({
      legend: { show: series.length > 1 },
      series: series.map((s) => ({
        type: 'line',
        name: s.name,
        animation: false,
        data: s.points,
        showSymbol: s.points.length < 40,
        symbolSize: 4,
        lineStyle: { width: 1.5 },
        // Server-side downsampling already bounds the points; lttb keeps the canvas fast
        // when a live curve has grown long between refetches.
        sampling: 'lttb',
      })),
    });
    const total = series.reduce((n, s) => n + s.points.length, 0);
    this.chart.el.setAttribute('data-points', String(total));
  }

  dispose(): void {
    this.chart.dispose();
  }
}

/** Parallel coordinates: one axis per hyperparameter, the last one the metric, one line a trial. */
export function renderParallel(
  chart: Chart,
  data: {
    params: string[];
    metric: string;
    rows: { values: (number | string)[]; value: number }[];
  },
  goal: 'minimize' | 'maximize',
): void {
  const dims = [...data.params, data.metric];
  const parallelAxis = dims.map((name, dim) => {
    const isCategory =
      dim < data.params.length && data.rows.some((r) => typeof r.values[dim] === 'string');
    if (!isCategory) return { dim, name, type: 'value' as const, scale: true };
    const cats = [...new Set(data.rows.map((r) => String(r.values[dim])))].sort();
    return { dim, name, type: 'category' as const, data: cats };
  });
  const values = data.rows.map((r) => r.value).filter(Number.isFinite);
  const min = values.length ? Math.min(...values) : 0;
  const max = values.length ? Math.max(...values) : 1;
  chart.set(
    {
      parallel: { left: 48, right: 120, top: 36, bottom: 24 },
      parallelAxis,
      visualMap: {
        type: 'continuous',
        dimension: dims.length - 1,
        min,
        max: max > min ? max : min + 1,
        // Good trials drawn dark: the low end for minimize, the high end for maximize.
        inRange: { color: goal === 'minimize' ? ['#1d4ed8', '#fca5a5'] : ['#fca5a5', '#1d4ed8'] },
        right: 0,
        top: 'middle',
        calculable: true,
        precision: 3,
      },
      series: [
        {
          type: 'parallel',
          animation: false,
          lineStyle: { width: 1, opacity: 0.6 },
          data: data.rows.map((r) => [...r.values, r.value]),
        },
      ],
    },
    true,
  );
}

/** Best objective so far over wall-clock time, as a step line. */
export function renderBestHistory(
  chart: Chart,
  points: { at: number; value: number }[],
  metric: string,
): void {
  const data: [number, number][] = points.map((p) => [p.at, p.value]);
  const last = data[data.length - 1];
  // Extend the last best to now, so the flat tail shows how long it has held.
  if (last) data.push([Math.max(Date.now(), last[0]), last[1]]);
  chart.set(
    {
      // Room above the plot for the y axis name; time labels that would overlap are dropped.
      grid: { left: 56, right: 16, top: 28, bottom: 28 },
      tooltip: { ...TOOLTIP, trigger: 'axis' },
      xAxis: { type: 'time', axisLabel: { hideOverlap: true } },
      yAxis: { type: 'value', scale: true, name: metric },
      series: [
        { type: 'line', animation: false, step: 'end', data, showSymbol: true, symbolSize: 5 },
      ],
    },
    true,
  );
  chart.el.setAttribute('data-points', String(points.length));
}

/** Hyperparameter importance (normalised |Spearman ρ|) as horizontal bars, largest on top. */
export function renderImportance(
  chart: Chart,
  params: { name: string; importance: number; correlation: number }[],
): void {
  const sorted = [...params].sort((a, b) => a.importance - b.importance);
  chart.set(
    {
      grid: { left: 120, right: 56, top: 8, bottom: 24 },
      tooltip: { ...TOOLTIP, trigger: 'item' },
      xAxis: { type: 'value', max: 1 },
      yAxis: { type: 'category', data: sorted.map((p) => p.name) },
      series: [
        {
          type: 'bar',
          animation: false,
          data: sorted.map((p) => ({
            value: p.importance,
            // Sign of the rank correlation: blue raises the metric, orange lowers it.
            itemStyle: { color: p.correlation >= 0 ? '#2563eb' : '#ea580c' },
          })),
          label: {
            show: true,
            position: 'right',
            formatter: (x: { dataIndex: number }) =>
              `ρ ${fmtValue(sorted[x.dataIndex]?.correlation ?? NaN)}`,
          },
        },
      ],
    },
    true,
  );
  chart.el.setAttribute('data-points', String(params.length));
}
