/**
 * bert-base-uncased tokenisation from a local `vocab.txt`, reproducing HuggingFace's slow
 * `BertTokenizer` (the one MMIM's reference calls via `encode_plus(text, max_length=50,
 * truncation=True, padding='max_length')`): special tokens typed in the text are kept whole
 * (case-sensitive), everything else is lowercased per character, basic-tokenised and split into
 * WordPieces; `[CLS] ... [SEP]`, truncated to `maxLength - 2` pieces, padded with `[PAD]`.
 *
 * Written here rather than taken from a package: the Rust/JS "fast" tokenizers differ from the
 * slow Python one in corner cases (special tokens in text, lowercasing), and this is ~150 lines.
 */
import { readFile } from 'node:fs/promises';
import { basicTokenize, lowercasePerCharacter } from './basic.js';
import { wordPiece } from './wordpiece.js';

export const SPECIAL_TOKENS = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]'] as const;
export type SpecialToken = (typeof SPECIAL_TOKENS)[number];

/** One encoded text: `maxLength` positions each. Types are all 0 (single segment). */
export interface BertEncoding {
  ids: Int32Array;
  mask: Int32Array;
  types: Int32Array;
  /** Number of real positions, [CLS] and [SEP] included (the mask's sum). */
  length: number;
}

const SPECIAL_SPLIT = new RegExp(
  `(${SPECIAL_TOKENS.map((t) => t.replace(/[[\]]/g, '\\$&')).join('|')})`,
);

export class BertWordPieceTokenizer {
  private readonly vocab: Map<string, number>;
  readonly padId: number;
  readonly unkId: number;
  readonly clsId: number;
  readonly sepId: number;

  /** `tokens[i]` is the piece with id i (vocab.txt's line i). */
  constructor(tokens: readonly string[]) {
    this.vocab = new Map();
    // Python's dict keeps the LAST index of a duplicated line; do the same.
    tokens.forEach((t, i) => this.vocab.set(t, i));
    const id = (t: SpecialToken): number => {
      const v = this.vocab.get(t);
      if (v === undefined) throw new Error(`vocabulary has no ${t} token`);
      return v;
    };
    this.padId = id('[PAD]');
    this.unkId = id('[UNK]');
    this.clsId = id('[CLS]');
    this.sepId = id('[SEP]');
  }

  /** Reads a vocab.txt (one piece per line, UTF-8, line i = id i). */
  static async fromVocabFile(file: string): Promise<BertWordPieceTokenizer> {
    const text = await readFile(file, 'utf8');
    // HF's load_vocab reads in text mode (universal newlines: \r\n and \r become \n), then
    // readlines() + rstrip('\n'): a final newline adds no entry.
    const lines = text.replace(/\r\n?/g, '\n').split('\n');
    if (lines.at(-1) === '') lines.pop();
    try {
      return new BertWordPieceTokenizer(lines);
    } catch (err) {
      throw new Error(`${file}: ${(err as Error).message}`);
    }
  }

  get vocabSize(): number {
    return this.vocab.size;
  }

  tokenId(piece: string): number {
    return this.vocab.get(piece) ?? this.unkId;
  }

  /** WordPiece tokens of a text, without [CLS]/[SEP]. */
  tokenize(text: string): string[] {
    const has = (p: string): boolean => this.vocab.has(p);
    const out: string[] = [];
    for (const part of text.split(SPECIAL_SPLIT)) {
      if (part === '') continue;
      if ((SPECIAL_TOKENS as readonly string[]).includes(part)) {
        out.push(part);
        continue;
      }
      for (const word of basicTokenize(lowercasePerCharacter(part))) {
        out.push(...wordPiece(word, has, '[UNK]'));
      }
    }
    return out;
  }

  encode(text: string, maxLength = 50): BertEncoding {
    if (!Number.isInteger(maxLength) || maxLength < 2) {
      throw new Error(
        `maxLength must be an integer >= 2 (room for [CLS] and [SEP]), got ${maxLength}`,
      );
    }
    const pieces = this.tokenize(text).slice(0, maxLength - 2);
    const ids = new Int32Array(maxLength).fill(this.padId);
    const mask = new Int32Array(maxLength);
    ids[0] = this.clsId;
    pieces.forEach((p, i) => (ids[i + 1] = this.tokenId(p)));
    const length = pieces.length + 2;
    ids[length - 1] = this.sepId;
    mask.fill(1, 0, length);
    return { ids, mask, types: new Int32Array(maxLength), length };
  }
}
