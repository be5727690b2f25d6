/**
 * The tokenizer against golden encodings made by HuggingFace's slow BertTokenizer logic
 * (transformers 4.x `BasicTokenizer`, `WordpieceTokenizer` and the special-token split and
 * per-character lowercasing of `PreTrainedTokenizer.tokenize`), run once under Debian's
 * python3 on testdata/vocab.txt; CI needs no Python. The cases aim at the corner cases:
 * punctuation (ASCII symbols, Unicode quotes), accents and combining marks, empty and blank
 * text, CJK (incl. astral), control and zero-width characters, non-breaking and line separators,
 * words at and over the 100-character limit, special tokens typed in text, truncation.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { BertWordPieceTokenizer } from './bert-tokenizer.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const vocabFile = path.join(here, 'testdata', 'vocab.txt');

interface GoldenCase {
  text: string;
  maxLength: number;
  tokens: string[];
  ids: number[];
  mask: number[];
}

describe('BertWordPieceTokenizer', () => {
  it('matches HuggingFace BertTokenizer on every golden case', async () => {
    const tok = await BertWordPieceTokenizer.fromVocabFile(vocabFile);
    const golden = JSON.parse(
      await readFile(path.join(here, 'testdata', 'golden.json'), 'utf8'),
    ) as GoldenCase[];
    assert.ok(golden.length >= 20);
    for (const c of golden) {
      const label = JSON.stringify(c.text.slice(0, 60));
      assert.deepEqual(tok.tokenize(c.text).slice(0, c.maxLength - 2), c.tokens, label);
      const enc = tok.encode(c.text, c.maxLength);
      assert.deepEqual(Array.from(enc.ids), c.ids, label);
      assert.deepEqual(Array.from(enc.mask), c.mask, label);
      assert.deepEqual(Array.from(enc.types), new Array<number>(c.maxLength).fill(0), label);
      assert.equal(enc.length, c.mask.filter((m) => m === 1).length, label);
    }
  });

  it('derives by hand: [CLS] pieces [SEP] then [PAD], accents stripped, ## continuation', () => {
    const tok = new BertWordPieceTokenizer([
      '[PAD]',
      '[UNK]',
      '[CLS]',
      '[SEP]',
      '[MASK]',
      'un',
      '##aff',
      '##able',
      'cafe',
      '!',
    ]);
    const enc = tok.encode('Unaffable CAFÉ!!', 10);
    assert.deepEqual(Array.from(enc.ids), [2, 5, 6, 7, 8, 9, 9, 3, 0, 0]);
    assert.deepEqual(Array.from(enc.mask), [1, 1, 1, 1, 1, 1, 1, 1, 0, 0]);
    assert.equal(enc.length, 8);
    // A word with no full segmentation is one [UNK], not a partial match.
    assert.deepEqual(tok.tokenize('unaffablex'), ['[UNK]']);
    assert.deepEqual(Array.from(tok.encode('', 4).ids), [2, 3, 0, 0]);
  });

  it('truncates to maxLength - 2 pieces and rejects a maxLength without room for [CLS] [SEP]', () => {
    const tok = new BertWordPieceTokenizer(['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]', 'a']);
    const enc = tok.encode('a a a a a a', 4);
    assert.deepEqual(Array.from(enc.ids), [2, 5, 5, 3]);
    assert.throws(() => tok.encode('a', 1), /maxLength/);
  });

  it('refuses a vocabulary without [UNK], naming the file', async () => {
    assert.throws(() => new BertWordPieceTokenizer(['[PAD]', 'a']), /no \[UNK\]/);
    const dir = await mkdtemp(path.join(tmpdir(), 'vocab-'));
    try {
      const file = path.join(dir, 'vocab.txt');
      await writeFile(file, '[PAD]\n[CLS]\n[SEP]\n');
      await assert.rejects(BertWordPieceTokenizer.fromVocabFile(file), (e: Error) =>
        e.message.startsWith(`${file}: vocabulary has no [UNK]`),
      );
      // CRLF line ends are read as Python's text mode reads them: no '\r' in the pieces.
      await writeFile(file, '[PAD]\r\n[UNK]\r\n[CLS]\r\n[SEP]\r\nhi\r\n');
      const tok = await BertWordPieceTokenizer.fromVocabFile(file);
      assert.equal(tok.vocabSize, 5);
      assert.deepEqual(Array.from(tok.encode('Hi', 4).ids), [2, 4, 3, 0]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
