/** Thrown by the store when a sweep or trial it must update does not exist. */
export class RecordNotFoundError extends Error {
  override readonly name = 'RecordNotFoundError';
  constructor(
    readonly kind: 'sweep' | 'trial',
    readonly id: string,
  ) {
    super(`${kind} ${JSON.stringify(id)} not found`);
  }
}

/** Thrown when a read-modify-write kept losing to concurrent writers (should not happen). */
export class StoreConflictError extends Error {
  override readonly name = 'StoreConflictError';
  constructor(
    readonly kind: 'sweep' | 'trial',
    readonly id: string,
    readonly attempts: number,
  ) {
    super(`${kind} ${JSON.stringify(id)} changed under ${attempts} consecutive updates; giving up`);
  }
}
