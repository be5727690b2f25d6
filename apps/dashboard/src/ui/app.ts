/**
 * The dashboard's browser entry: the header (navigation, live-stream state, token), the hash
 * router and one EventSource shared by the pages. Bundled by scripts/build.mjs into app.js.
 */
import './app.css';
import { api, clearToken, getToken, setToken, TOKEN_EVENT } from './api.js';
import { h, replace } from './dom.js';
import { Live } from './live.js';
import { sweepPage } from './pages/sweep.js';
import { sweepsPage } from './pages/sweeps.js';
import { trialPage } from './pages/trial.js';
import { workersPage } from './pages/workers.js';
import { parseRoute } from './router.js';
import { askToken, type Page, type PageContext } from './widgets.js';

const live = new Live();
const root = h('main', { id: 'page' });

function header(): HTMLElement {
  const dot = h('span', { class: 'live', 'data-testid': 'live-status', 'data-state': 'closed' });
  live.onState((state) => {
    dot.setAttribute('data-state', state);
    dot.textContent = state === 'open' ? 'live' : state;
  });
  // Where reads need the token too (`--read-token-required`), pages answer 401 until one
  // is entered here; the event stream then reconnects with it.
  const tokenButton = h('button', { class: 'link', 'data-testid': 'token-button' });
  const syncToken = (): void => {
    tokenButton.textContent = getToken() === null ? 'Enter admin token' : 'Forget admin token';
  };
  tokenButton.addEventListener('click', () => {
    void (async () => {
      if (getToken() !== null) {
        clearToken();
      } else {
        const token = await askToken('Enter the coordinator admin token for this tab.');
        if (!token) return;
        setToken(token);
      }
      syncToken();
      live.connect();
      route();
    })();
  });
  syncToken();
  window.addEventListener(TOKEN_EVENT, syncToken);
  return h(
    'header',
    { class: 'top' },
    h('a', { class: 'brand', href: '#/' }, 'MMIM'),
    h(
      'nav',
      {},
      h('a', { href: '#/', 'data-nav': 'sweeps' }, 'Sweeps'),
      h('a', { href: '#/workers', 'data-nav': 'workers' }, 'Workers'),
    ),
    h('span', { class: 'spacer' }),
    tokenButton,
    dot,
  );
}

/**
 * A banner while the coordinator refuses new trials because Redis is nearly full (its message
 * says how full and what to do); checked every 10 s, hidden when there is room again.
 */
function redisBanner(): HTMLElement {
  const banner = h('div', { class: 'banner warn', role: 'alert', 'data-testid': 'redis-banner' });
  banner.hidden = true;
  const check = (): void => {
    api.redisMemory().then(
      (m) => {
        banner.hidden = !m.refusing;
        banner.textContent = m.message ?? '';
      },
      () => undefined, // an older coordinator or no token yet: no banner
    );
  };
  check();
  setInterval(check, 10_000);
  return banner;
}

let current: Page | null = null;

function route(): void {
  current?.dispose();
  current = null;
  const r = parseRoute(location.hash);
  const ctx: PageContext = { live, root };
  for (const a of document.querySelectorAll('nav a')) {
    const nav = a.getAttribute('data-nav');
    a.classList.toggle('active', nav === r.page || (nav === 'sweeps' && r.page === 'sweep'));
  }
  window.scrollTo(0, 0);
  switch (r.page) {
    case 'sweeps':
      document.title = 'Sweeps · MMIM';
      current = sweepsPage(ctx);
      break;
    case 'sweep':
      document.title = `Sweep ${r.id} · MMIM`;
      current = sweepPage(ctx, r.id);
      break;
    case 'trial':
      document.title = `Trial ${r.id} · MMIM`;
      current = trialPage(ctx, r.id);
      break;
    case 'workers':
      document.title = 'Workers · MMIM';
      current = workersPage(ctx);
      break;
    case 'not-found':
      document.title = 'Not found · MMIM';
      replace(root, h('h1', {}, 'Not found'), h('p', {}, `No page at #/${r.path}.`));
      break;
  }
}

replace(document.body, header(), redisBanner(), root);
window.addEventListener('hashchange', route);
live.connect();
route();
