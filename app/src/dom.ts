// Small DOM helpers: elements from a tag, attributes and children, and status messages.

type Child = Node | string | null | undefined | false;

/** Creates `<tag>` with `attrs` (`on*` keys add listeners) and `children`. */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Record<string, unknown> = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith('on') && typeof value === 'function') {
      el.addEventListener(key.slice(2), value as EventListener);
    } else if (value === true) {
      el.setAttribute(key, '');
    } else {
      el.setAttribute(key, String(value));
    }
  }
  append(el, ...children);
  return el;
}

/** Appends `children`, skipping empty ones. */
export function append(el: Element, ...children: Child[]): void {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child);
  }
}

/** A status line: `kind` sets its colour, errors are announced at once. */
export function status(kind: 'info' | 'ok' | 'error', text: string, testId?: string): HTMLElement {
  return h('p', {
    class: `status ${kind}`,
    role: kind === 'error' ? 'alert' : 'status',
    'data-testid': testId,
  }, text);
}

/** Shortens an address or hash for display (the full value is in the title). */
export function short(hex: string): string {
  return hex.length > 14 ? `${hex.slice(0, 8)}…${hex.slice(-4)}` : hex;
}
