/**
 * BERT's "basic" tokenisation, as HuggingFace's slow `BertTokenizer` (transformers 4.x) does it for
 * bert-base-uncased: drop NUL, U+FFFD and control characters, map whitespace to spaces, pad CJK
 * ideographs with spaces, split on whitespace, lowercase, strip accents (NFD, drop Mn), and split
 * off every punctuation character. Strings are walked by code point (Python's `list(str)`), not
 * by UTF-16 unit, so astral characters behave as in Python.
 */

/** Unicode categories by regex (Node's ICU); the same tables Python's `unicodedata` uses, up to version skew. */
const CONTROL = /^\p{C}$/u;
const SPACE_SEPARATOR = /^\p{Zs}$/u;
const PUNCTUATION = /^\p{P}$/u;
const NONSPACING_MARK = /\p{Mn}/gu;

function isWhitespace(ch: string): boolean {
  return ch === ' ' || ch === '\t' || ch === '\n' || ch === '\r' || SPACE_SEPARATOR.test(ch);
}

function isControl(ch: string): boolean {
  // BERT counts tab and newlines as whitespace, not control.
  if (ch === '\t' || ch === '\n' || ch === '\r') return false;
  return CONTROL.test(ch);
}

/** ASCII symbols like `$`, `^`, `` ` `` count as punctuation although Unicode files them as S*. */
export function isPunctuation(ch: string): boolean {
  const cp = ch.codePointAt(0) ?? 0;
  if ((cp >= 33 && cp <= 47) || (cp >= 58 && cp <= 64) || (cp >= 91 && cp <= 96)) return true;
  if (cp >= 123 && cp <= 126) return true;
  return PUNCTUATION.test(ch);
}

/** The CJK Unified Ideographs blocks BERT pads with spaces (not Hangul, Hiragana or Katakana). */
export function isCjk(cp: number): boolean {
  return (
    (cp >= 0x4e00 && cp <= 0x9fff) ||
    (cp >= 0x3400 && cp <= 0x4dbf) ||
    (cp >= 0x20000 && cp <= 0x2a6df) ||
    (cp >= 0x2a700 && cp <= 0x2b73f) ||
    (cp >= 0x2b740 && cp <= 0x2b81f) ||
    (cp >= 0x2b820 && cp <= 0x2ceaf) ||
    (cp >= 0xf900 && cp <= 0xfaff) ||
    (cp >= 0x2f800 && cp <= 0x2fa1f)
  );
}

/** Remove invalid/control characters, normalise whitespace and space out CJK ideographs. */
function cleanText(text: string): string {
  let out = '';
  for (const ch of text) {
    const cp = ch.codePointAt(0) ?? 0;
    if (cp === 0 || cp === 0xfffd || isControl(ch)) continue;
    if (isWhitespace(ch)) out += ' ';
    else if (isCjk(cp)) out += ` ${ch} `;
    else out += ch;
  }
  return out;
}

/**
 * HF lowercases the text one character at a time (a regex `(.+?)` substitution in
 * `PreTrainedTokenizer.tokenize`) before BasicTokenizer lowercases each word again; per-character
 * lowering means no context rules (a word-final Σ becomes σ, not ς).
 */
export function lowercasePerCharacter(text: string): string {
  let out = '';
  for (const ch of text) out += ch.toLowerCase();
  return out;
}

function stripAccents(word: string): string {
  return word.normalize('NFD').replace(NONSPACING_MARK, '');
}

function splitOnPunctuation(word: string): string[] {
  const out: string[] = [];
  let current = '';
  for (const ch of word) {
    if (isPunctuation(ch)) {
      if (current) out.push(current);
      out.push(ch);
      current = '';
    } else {
      current += ch;
    }
  }
  if (current) out.push(current);
  return out;
}

/**
 * Python's `str.split()` after cleaning: the only whitespace left is ' ' and U+2028/U+2029,
 * which JavaScript's `\s` also matches.
 */
function whitespaceSplit(text: string): string[] {
  return text.split(/\s+/u).filter((w) => w.length > 0);
}

/** Basic (pre-WordPiece) tokens of a text that holds no special tokens, uncased. */
export function basicTokenize(text: string): string[] {
  const out: string[] = [];
  for (const word of whitespaceSplit(cleanText(text))) {
    const normalised = stripAccents(word.toLowerCase());
    // HF ends with whitespace_tokenize(" ".join(tokens)): re-split on whitespace likewise.
    for (const piece of splitOnPunctuation(normalised)) out.push(...whitespaceSplit(piece));
  }
  return out;
}
