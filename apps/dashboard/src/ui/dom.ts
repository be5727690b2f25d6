/**
 * The one way the dashboard makes DOM: elements from a tag, attributes and children, where
 * every string child becomes a text node. Nothing here (or anywhere in src/ui) writes
 * innerHTML, so names, params and messages from the API are always shown as text.
 */
export type Child = Node | string | number | null | undefined | false;
export type Attrs = Record<
  string,
  string | number | boolean | null | undefined | ((event: Event) => void)
>;

export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Attrs = {},
  ...children: (Child | Child[])[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (typeof value === 'function') {
      el.addEventListener(key.replace(/^on/, '').toLowerCase(), value);
    } else if (key === 'style' || key.startsWith('on')) {
      // Inline styles break under the CSP and inline handlers are scripts: refuse both.
      throw new Error(`h(${tag}): attribute "${key}" is not allowed (CSP)`);
    } else {
      el.setAttribute(key, value === true ? '' : String(value));
    }
  }
  append(el, ...children);
  return el;
}

export function append(parent: Node, ...children: (Child | Child[])[]): void {
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    parent.appendChild(typeof c === 'object' ? c : document.createTextNode(String(c)));
  }
}

/** Replaces every child of `parent` with `children`. */
export function replace(parent: Node, ...children: (Child | Child[])[]): void {
  while (parent.firstChild) parent.removeChild(parent.firstChild);
  append(parent, ...children);
}

/** A link to a hash route, ids encoded. */
export function routeLink(text: string, ...path: string[]): HTMLAnchorElement {
  return h('a', { href: '#/' + path.map(encodeURIComponent).join('/') }, text);
}

/** Calls `fn` once `ms` after the last call (trailing edge). */
export function debounce(fn: () => void, ms: number): { (): void; cancel(): void } {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const call = (): void => {
    if (timer !== undefined) clearTimeout(timer);
    timer = setTimeout(() => {
      timer = undefined;
      fn();
    }, ms);
  };
  call.cancel = (): void => {
    if (timer !== undefined) clearTimeout(timer);
    timer = undefined;
  };
  return call;
}
