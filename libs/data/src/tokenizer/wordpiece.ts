/**
 * WordPiece: greedy longest-match-first segmentation of one basic token into vocabulary pieces,
 * continuation pieces prefixed `##`. A word with no complete segmentation, or longer than
 * `maxCharsPerWord` code points, becomes the unknown token as a whole (BERT's rule).
 */
export const MAX_CHARS_PER_WORD = 100;

export function wordPiece(
  word: string,
  has: (piece: string) => boolean,
  unkToken: string,
  maxCharsPerWord = MAX_CHARS_PER_WORD,
): string[] {
  const chars = Array.from(word); // code points, as Python's list(str)
  if (chars.length > maxCharsPerWord) return [unkToken];
  const pieces: string[] = [];
  let start = 0;
  while (start < chars.length) {
    let end = chars.length;
    let found: string | null = null;
    while (start < end) {
      const sub = (start > 0 ? '##' : '') + chars.slice(start, end).join('');
      if (has(sub)) {
        found = sub;
        break;
      }
      end--;
    }
    if (found === null) return [unkToken];
    pieces.push(found);
    start = end;
  }
  return pieces;
}
