/**
 * Every failure of the unpickler is a PickleError carrying the byte offset of the opcode that
 * failed, so that a reader can wrap it into a DataError naming the file, and nothing surfaces as
 * a bare TypeError from deep inside the parser.
 */
export class PickleError extends Error {
  override readonly name = 'PickleError';
  constructor(
    readonly detail: string,
    /** Byte offset of the opcode being executed, or -1 when not tied to one. */
    readonly offset = -1,
  ) {
    super(offset >= 0 ? `${detail} (at byte ${offset})` : detail);
  }
}
