/** Text formatting shared by the pages (pure: unit-tested in node). */

/** "3 s ago", "4 min ago", "2 h ago", "5 d ago"; "just now" under a second; "in 2 s" ahead. */
export function timeAgo(at: number, now: number): string {
  const d = now - at;
  if (!Number.isFinite(d)) return '—';
  const ahead = d < 0;
  const s = Math.abs(d) / 1000;
  if (s < 1) return 'just now';
  let text: string;
  if (s < 60) text = `${Math.floor(s)} s`;
  else if (s < 3600) text = `${Math.floor(s / 60)} min`;
  else if (s < 86400) text = `${Math.floor(s / 3600)} h`;
  else text = `${Math.floor(s / 86400)} d`;
  return ahead ? `in ${text}` : `${text} ago`;
}

/** A metric value: 4 significant digits, '—' for null/NaN. */
/** A metric value as the metric table's `format` says: 0.7123, or 81.23 for a percentage. */
export function fmtMetric(format: 'decimal' | 'percent', v: number | null | undefined): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return '—';
  return format === 'percent' ? (100 * v).toFixed(2) : v.toFixed(4);
}

export function fmtValue(v: number | null | undefined): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return '—';
  // Learning rates read best as 1e-4 / 2.5e-5, not 0.0001.
  if (v !== 0 && (Math.abs(v) < 1e-3 || Math.abs(v) >= 1e6)) {
    return Number(v.toPrecision(4)).toExponential();
  }
  return String(Number(v.toPrecision(4)));
}

/** A hyperparameter value as short text (objects as JSON). */
export function fmtParam(v: unknown): string {
  if (typeof v === 'number') return fmtValue(v);
  if (typeof v === 'string') return v;
  if (v === undefined) return '';
  return JSON.stringify(v);
}

export function fmtTime(at: number | null | undefined): string {
  if (at === null || at === undefined) return '—';
  return new Date(at).toISOString().replace('T', ' ').slice(0, 19);
}

export function fmtSeconds(s: number | null | undefined): string {
  if (s === null || s === undefined || !Number.isFinite(s)) return '—';
  if (s < 60) return `${s.toFixed(1)} s`;
  if (s < 3600) return `${(s / 60).toFixed(1)} min`;
  return `${(s / 3600).toFixed(1)} h`;
}

const BYTE_UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];

/** Binary units, one decimal at most: '512 B', '2.3 MiB', '16 KiB', '4 GiB'. */
export function fmtBytes(n: number): string {
  if (!Number.isFinite(n) || n < 0) return '—';
  let value = n;
  let unit = 0;
  while (value >= 1024 && unit < BYTE_UNITS.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${n} B` : `${Number(value.toFixed(1))} ${BYTE_UNITS[unit]}`;
}

/** The parts of a GPU adapter the workers page names (WorkerAdapter, structurally). */
export interface AdapterText {
  vendor: string;
  architecture: string;
  device: string;
  limits: {
    maxBufferSize: number;
    maxStorageBufferBindingSize: number;
    maxComputeWorkgroupStorageSize: number;
    maxComputeInvocationsPerWorkgroup: number;
  } | null;
}

/** 'nvidia · hopper · NVIDIA H200'; empty parts left out (llvmpipe names no vendor). */
export function adapterName(a: AdapterText): string {
  const parts = [a.vendor, a.architecture, a.device].filter((p) => p.trim() !== '');
  return parts.length > 0 ? parts.join(' · ') : 'unnamed adapter';
}

/** The adapter's memory and dispatch limits in human units. */
export function adapterLimits(a: AdapterText): string {
  const l = a.limits;
  if (l === null) return 'limits not reported';
  return [
    `buffer ${fmtBytes(l.maxBufferSize)}`,
    `storage binding ${fmtBytes(l.maxStorageBufferBindingSize)}`,
    `workgroup memory ${fmtBytes(l.maxComputeWorkgroupStorageSize)}`,
    `${l.maxComputeInvocationsPerWorkgroup} invocations/workgroup`,
  ].join(' · ');
}

/** The MMIM losses first in this order, then other train/ curves, then the rest, lr/ last. */
const KNOWN = ['train/loss', 'train/nce', 'train/lld', 'train/H'];

export function curveOrder(name: string): string {
  const known = KNOWN.indexOf(name);
  if (known >= 0) return `0${known}:${name}`;
  const group = name.startsWith('train/') ? 1 : name.startsWith('lr/') ? 3 : 2;
  return `${group}:${name}`;
}
