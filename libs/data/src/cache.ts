/**
 * On-disk cache of preprocessed datasets (the SplitData columns), so a large pickle or CSD
 * folder is parsed and tokenised once. An entry is keyed by the source's content hash (sha256,
 * streamed) and the preprocessing options; a changed file or option misses. Each entry is
 *   `<key>.safetensors`: every typed column as `<split>.<column>` (via @mmim/runtime), and
 *   `<key>.json`: ids, texts, dataset fields, and the sha256 of the safetensors file.
 * The JSON is written last (atomically), so it marks a complete entry; on load the safetensors
 * hash and every shape are checked, and anything wrong (truncation, bit flips, a half-written
 * entry) rebuilds the entry instead of failing or returning bad tensors. Several processes may
 * build the same entry at once (files are replaced by rename), provided `build` is deterministic.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, readFile, readdir, rename, stat, unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import {
  parseSafetensors,
  writeSafetensorsFileAtomic,
  type SafetensorsFile,
  type SafetensorsTensor,
} from '@mmim/runtime';
import {
  SPLITS,
  type DatasetFormat,
  type MsaDataset,
  type SplitData,
  type SplitName,
} from './types.js';

/** Bump when the entry layout or the meaning of the columns changes. */
export const CACHE_VERSION = 1;

export type JsonValue =
  string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

export interface DatasetCacheOptions {
  cacheDir: string;
  /** The file or folder the dataset is read from; its content keys the entry. */
  source: string;
  /** Every preprocessing option that changes the tensors (e.g. tokenizer, max length). */
  options: { [key: string]: JsonValue };
  /** Makes the dataset when there is no valid entry. */
  build: () => Promise<MsaDataset>;
}

export interface CachedDataset {
  dataset: MsaDataset;
  hit: boolean;
  key: string;
  /** Why the cache was not used ('absent', or what was wrong with the entry); null on a hit. */
  missReason: string | null;
}

/** sha256 of a file's bytes, or of a folder's sorted relative paths and file hashes. */
export async function sourceDigest(source: string): Promise<string> {
  const info = await stat(source);
  if (!info.isDirectory()) return fileDigest(source);
  const hash = createHash('sha256');
  for (const rel of await listFiles(source)) {
    hash.update(`${rel}\0${await fileDigest(path.join(source, rel))}\n`);
  }
  return hash.digest('hex');
}

async function fileDigest(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file, { highWaterMark: 1 << 20 }))
    hash.update(chunk as Buffer);
  return hash.digest('hex');
}

async function listFiles(dir: string, prefix = ''): Promise<string[]> {
  const out: string[] = [];
  const entries = await readdir(path.join(dir, prefix), { withFileTypes: true });
  for (const e of entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
    const rel = prefix ? `${prefix}/${e.name}` : e.name;
    if (e.isDirectory()) out.push(...(await listFiles(dir, rel)));
    else if (e.isFile()) out.push(rel);
  }
  return out;
}

/** JSON with object keys sorted, so equal options give equal keys whatever their order. */
function canonicalJson(v: JsonValue): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  if (v !== null && typeof v === 'object') {
    const keys = Object.keys(v).sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(v[k] as JsonValue)}`).join(',')}}`;
  }
  return JSON.stringify(v);
}

export function cacheKey(digest: string, options: { [key: string]: JsonValue }): string {
  return createHash('sha256')
    .update(`mmim-data-cache v${CACHE_VERSION}\n${digest}\n${canonicalJson(options)}`)
    .digest('hex')
    .slice(0, 32);
}

interface EntryMeta {
  version: number;
  key: string;
  sourceDigest: string;
  options: { [key: string]: JsonValue };
  name: string;
  format: DatasetFormat;
  source: string;
  tensorsSha256: string;
  splits: Record<SplitName, { ids: string[]; texts: string[] }>;
  /** The reader's notes, kept so a cached load reports what the first read changed. */
  notes: MsaDataset['notes'] | null;
}

const INT_COLUMNS = [
  'bertIds',
  'bertMask',
  'bertTypes',
  'visualLengths',
  'acousticLengths',
] as const;
const FLOAT_COLUMNS = ['visual', 'acoustic', 'labels'] as const;

function columnShapes(
  s: SplitData,
): Record<(typeof INT_COLUMNS)[number] | (typeof FLOAT_COLUMNS)[number], number[]> {
  const n = s.size;
  return {
    bertIds: [n, s.textLength],
    bertMask: [n, s.textLength],
    bertTypes: [n, s.textLength],
    visualLengths: [n],
    acousticLengths: [n],
    visual: [n, s.visualSteps, s.visualDim],
    acoustic: [n, s.acousticSteps, s.acousticDim],
    labels: [n],
  };
}

function tensorsOf(ds: MsaDataset): Record<string, SafetensorsTensor> {
  const out: Record<string, SafetensorsTensor> = {};
  for (const split of SPLITS) {
    const s = ds.splits[split];
    const shapes = columnShapes(s);
    for (const c of INT_COLUMNS)
      out[`${split}.${c}`] = { dtype: 'I32', shape: shapes[c], data: s[c] };
    for (const c of FLOAT_COLUMNS)
      out[`${split}.${c}`] = { dtype: 'F32', shape: shapes[c], data: s[c] };
  }
  return out;
}

function entryPaths(dir: string, key: string): { tensors: string; meta: string } {
  return { tensors: path.join(dir, `${key}.safetensors`), meta: path.join(dir, `${key}.json`) };
}

/** Reads an entry; throws with the reason when it is absent, stale or corrupt. */
async function readEntry(dir: string, key: string): Promise<MsaDataset> {
  const p = entryPaths(dir, key);
  let metaText: string;
  try {
    metaText = await readFile(p.meta, 'utf8');
  } catch {
    throw new Error('absent');
  }
  const meta = JSON.parse(metaText) as EntryMeta;
  if (meta.version !== CACHE_VERSION || meta.key !== key)
    throw new Error('entry of another version or key');
  const bytes = await readFile(p.tensors);
  if (createHash('sha256').update(bytes).digest('hex') !== meta.tensorsSha256) {
    throw new Error(`${path.basename(p.tensors)} does not match its recorded sha256`);
  }
  const file = parseSafetensors(bytes, p.tensors);
  const splits = {} as Record<SplitName, SplitData>;
  for (const split of SPLITS) splits[split] = readSplit(file, split, meta.splits[split]);
  const ds: MsaDataset = { name: meta.name, format: meta.format, source: meta.source, splits };
  if (meta.notes) ds.notes = meta.notes;
  return ds;
}

function readSplit(
  file: SafetensorsFile,
  split: SplitName,
  m: { ids: string[]; texts: string[] } | undefined,
): SplitData {
  const get = (c: string, dtype: 'I32' | 'F32'): SafetensorsTensor => {
    const t = file.tensors.get(`${split}.${c}`);
    if (!t || t.dtype !== dtype) throw new Error(`missing or mistyped tensor ${split}.${c}`);
    return t;
  };
  const ids = get('bertIds', 'I32');
  const visual = get('visual', 'F32');
  const acoustic = get('acoustic', 'F32');
  const [n = 0, L = 0] = ids.shape;
  const [, Tv = 0, dv = 0] = visual.shape;
  const [, Ta = 0, da = 0] = acoustic.shape;
  if (!m || m.ids.length !== n || m.texts.length !== n)
    throw new Error(`ids/texts of split ${split} do not match its tensors`);
  const s: SplitData = {
    name: split,
    size: n,
    ids: m.ids,
    texts: m.texts,
    textLength: L,
    bertIds: ids.data as Int32Array,
    bertMask: get('bertMask', 'I32').data as Int32Array,
    bertTypes: get('bertTypes', 'I32').data as Int32Array,
    visual: visual.data as Float32Array,
    visualSteps: Tv,
    visualDim: dv,
    visualLengths: get('visualLengths', 'I32').data as Int32Array,
    acoustic: acoustic.data as Float32Array,
    acousticSteps: Ta,
    acousticDim: da,
    acousticLengths: get('acousticLengths', 'I32').data as Int32Array,
    labels: get('labels', 'F32').data as Float32Array,
  };
  const shapes = columnShapes(s);
  for (const c of [...INT_COLUMNS, ...FLOAT_COLUMNS]) {
    const t = file.tensors.get(`${split}.${c}`);
    if (!t || t.shape.join(',') !== shapes[c].join(','))
      throw new Error(`tensor ${split}.${c} has the wrong shape`);
  }
  return s;
}

async function writeEntry(
  dir: string,
  key: string,
  digest: string,
  options: { [key: string]: JsonValue },
  ds: MsaDataset,
): Promise<void> {
  const p = entryPaths(dir, key);
  await unlink(p.meta).catch(() => undefined); // an old marker must not vouch for new tensors
  await writeSafetensorsFileAtomic(p.tensors, tensorsOf(ds), {
    'mmim.cache': `v${CACHE_VERSION}`,
    key,
  });
  const splits = {} as EntryMeta['splits'];
  for (const split of SPLITS)
    splits[split] = { ids: ds.splits[split].ids, texts: ds.splits[split].texts };
  const meta: EntryMeta = {
    version: CACHE_VERSION,
    key,
    sourceDigest: digest,
    options,
    name: ds.name,
    format: ds.format,
    source: ds.source,
    tensorsSha256: await fileDigest(p.tensors),
    splits,
    notes: ds.notes ?? null,
  };
  const temp = `${p.meta}.${process.pid}.tmp`;
  await writeFile(temp, JSON.stringify(meta));
  await rename(temp, p.meta);
}

/** The cached dataset for (source content, options), built and stored when missing or invalid. */
export async function loadOrBuildCached(o: DatasetCacheOptions): Promise<CachedDataset> {
  const digest = await sourceDigest(o.source);
  const key = cacheKey(digest, o.options);
  let missReason: string;
  try {
    const dataset = await readEntry(o.cacheDir, key);
    return { dataset, hit: true, key, missReason: null };
  } catch (err) {
    missReason = (err as Error).message;
  }
  const dataset = await o.build();
  await mkdir(o.cacheDir, { recursive: true });
  await writeEntry(o.cacheDir, key, digest, o.options, dataset);
  return { dataset, hit: false, key, missReason };
}
