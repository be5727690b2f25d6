/**
 * The words synthetic utterances are made of: a small set of English sentiment words with
 * AFINN-165 valences (-4..+4), neutral filler words, negators and intensifiers; and the
 * BERT-style vocabulary that covers all of them as whole WordPieces.
 */
import { basicTokenize } from '../tokenizer/basic.js';

/** Valences used: AFINN's -4..+4 (the +-5 entries are almost all slurs or few). */
export const MAX_VALENCE = 4;

/** Negation flips and damps a word's valence ("not good" is mildly negative). */
export const NEGATION_FACTOR = -0.5;
/** An intensifier scales it ("very good" is better than "good"). */
export const INTENSIFIER_FACTOR = 1.5;

export const NEGATORS = ['not', 'never'] as const;
export const INTENSIFIERS = ['very', 'extremely', 'really', 'so'] as const;

/** Neutral words of spoken movie reviews, some with contractions (they exercise punctuation splits). */
export const FILLERS = [
  'i',
  'think',
  'the',
  'movie',
  'film',
  'was',
  'it',
  'and',
  'but',
  'just',
  'like',
  'um',
  'uh',
  'you',
  'know',
  'a',
  'this',
  'that',
  'of',
  'to',
  'in',
  'story',
  'actor',
  'actors',
  'plot',
  'scene',
  'scenes',
  'character',
  'ending',
  'music',
  'director',
  'time',
  'people',
  'thing',
  'part',
  'way',
  'kind',
  'there',
  'were',
  'is',
  'with',
  'about',
  'what',
  'he',
  'she',
  'they',
  'me',
  'my',
  'we',
  'saw',
  'watched',
  'went',
  'see',
  'two',
  'hours',
  'at',
  'all',
  'then',
  'because',
  'when',
  'some',
  'whole',
  "it's",
  "i'm",
  "that's",
  "there's",
  'also',
  'one',
  'first',
  'second',
  'half',
  'actually',
  'basically',
  'overall',
  'anyway',
  'um',
  'sequel',
  'trailer',
  'theater',
  'effects',
  'dialogue',
  'cast',
] as const;

export interface Lexicon {
  /** Words with integer valence v, at index v + MAX_VALENCE (index MAX_VALENCE, v = 0, is empty). */
  byValence: readonly (readonly string[])[];
  /** Valence of every sentiment word (the lexicon a text estimator may use). */
  valence: ReadonlyMap<string, number>;
  fillers: readonly string[];
}

/**
 * The sentiment words, by valence (-4..+4, AFINN-165's scale and, except where noted, its
 * values). Few on purpose: a text encoder trained from scratch learns a word's valence only from
 * the clips it occurs in, so every word must recur often even in a split of a hundred clips.
 */
export const SENTIMENT_WORDS: Readonly<Record<number, readonly string[]>> = {
  4: ['amazing', 'awesome'],
  3: ['great', 'good'],
  2: ['fine', 'solid'],
  1: ['cool', 'fresh'],
  '-1': ['silly', 'strange'],
  '-2': ['dull', 'lame'],
  '-3': ['bad', 'boring'],
  // AFINN's -4 words are profanity; these two are its -3, one step stronger here.
  '-4': ['terrible', 'awful'],
};

let cached: Lexicon | null = null;

export function lexicon(): Lexicon {
  if (cached) return cached;
  const byValence: string[][] = Array.from({ length: 2 * MAX_VALENCE + 1 }, () => []);
  const valence = new Map<string, number>();
  for (let v = -MAX_VALENCE; v <= MAX_VALENCE; v++) {
    for (const word of SENTIMENT_WORDS[v] ?? []) {
      byValence[v + MAX_VALENCE]?.push(word);
      valence.set(word, v);
    }
  }
  cached = { byValence, valence, fillers: [...new Set(FILLERS)] };
  return cached;
}

/**
 * A vocab.txt for the synthetic text: bert-base-uncased's layout for the first 104 ids
 * ([PAD]=0, [unused0..98], [UNK]=100, [CLS]=101, [SEP]=102, [MASK]=103, so code that assumes
 * BERT's special ids works), then ASCII punctuation, then every basic token the generator can
 * produce, sorted. Every generated word is one whole piece, so WordPiece never emits [UNK].
 */
export function syntheticVocabulary(): string[] {
  const lex = lexicon();
  const head = ['[PAD]', ...Array.from({ length: 99 }, (_, i) => `[unused${i}]`)];
  head.push('[UNK]', '[CLS]', '[SEP]', '[MASK]');
  const punctuation = Array.from({ length: 94 }, (_, i) => String.fromCharCode(33 + i)).filter(
    (c) => !/[a-z0-9A-Z]/.test(c),
  );
  const words = new Set<string>();
  for (const w of [...lex.valence.keys(), ...lex.fillers, ...NEGATORS, ...INTENSIFIERS]) {
    for (const piece of basicTokenize(w)) if (!punctuation.includes(piece)) words.add(piece);
  }
  return [...head, ...punctuation, ...[...words].sort()];
}
