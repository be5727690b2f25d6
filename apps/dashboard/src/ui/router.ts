/** Hash routes: #/ (sweeps), #/sweeps/:id, #/trials/:id, #/workers. Pure: unit-tested. */
export type Route =
  | { page: 'sweeps' }
  | { page: 'sweep'; id: string }
  | { page: 'trial'; id: string }
  | { page: 'workers' }
  | { page: 'not-found'; path: string };

export function parseRoute(hash: string): Route {
  const path = hash.replace(/^#/, '').replace(/^\/+|\/+$/g, '');
  if (path === '' || path === 'sweeps') return { page: 'sweeps' };
  if (path === 'workers') return { page: 'workers' };
  const m = /^(sweeps|trials)\/([^/]+)$/.exec(path);
  if (m && m[1] && m[2]) {
    let id: string;
    try {
      id = decodeURIComponent(m[2]);
    } catch {
      return { page: 'not-found', path };
    }
    return m[1] === 'sweeps' ? { page: 'sweep', id } : { page: 'trial', id };
  }
  return { page: 'not-found', path };
}
