/**
 * Live updates: one EventSource on /api/events for the whole app. Pages subscribe to the
 * ChangeEvents they care about and refetch what changed (debounced), so the server only
 * pushes ids, never records. EventSource reconnects by itself; the header shows the state.
 */
import type { ChangeEvent } from './api.js';
import { withToken } from './api.js';

export type LiveState = 'connecting' | 'open' | 'closed';
/**
 * A change from the server, or `resync` after the stream reopened: events may have been missed
 * while it was down, so pages refetch what they show.
 */
export type LiveEvent = ChangeEvent | { kind: 'resync' };
type Listener = (event: LiveEvent) => void;

export class Live {
  private source: EventSource | null = null;
  private readonly listeners = new Set<Listener>();
  private readonly stateListeners = new Set<(state: LiveState) => void>();
  state: LiveState = 'closed';

  connect(): void {
    this.close();
    const source = new EventSource(withToken('/api/events'));
    this.source = source;
    this.setState('connecting');
    let opened = false;
    source.addEventListener('open', () => {
      this.setState('open');
      if (opened) this.emit({ kind: 'resync' });
      opened = true;
    });
    source.addEventListener('error', () =>
      this.setState(source.readyState === EventSource.CLOSED ? 'closed' : 'connecting'),
    );
    source.addEventListener('change', (e) => {
      let event: ChangeEvent;
      try {
        event = JSON.parse((e as MessageEvent<string>).data) as ChangeEvent;
      } catch {
        return; // a malformed message must not stop the stream
      }
      this.emit(event);
    });
  }

  private emit(event: LiveEvent): void {
    for (const fn of this.listeners) fn(event);
  }

  close(): void {
    this.source?.close();
    this.source = null;
    this.setState('closed');
  }

  /** Calls `fn` for every change; returns the unsubscribe function. */
  on(fn: Listener): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  onState(fn: (state: LiveState) => void): () => void {
    this.stateListeners.add(fn);
    fn(this.state);
    return () => this.stateListeners.delete(fn);
  }

  private setState(state: LiveState): void {
    this.state = state;
    for (const fn of this.stateListeners) fn(state);
  }
}
