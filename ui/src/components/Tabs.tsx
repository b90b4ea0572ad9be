// Tabs: link tabs for the run page's sections (each has a URL) and an ARIA tablist with arrow
// keys for in-page choices (log components).
import type { ComponentChildren } from 'preact';
import { useRef } from 'preact/hooks';

export interface LinkTab {
  id: string;
  label: ComponentChildren;
  href: string;
}

export function LinkTabs({ tabs, current, label }: { tabs: LinkTab[]; current: string; label: string }) {
  return (
    <nav class="tabs" aria-label={label}>
      {tabs.map((t) => (
        <a
          key={t.id}
          class={`tab${t.id === current ? ' active' : ''}`}
          href={t.href}
          aria-current={t.id === current ? 'page' : undefined}
          data-testid={`tab-${t.id}`}
        >
          {t.label}
        </a>
      ))}
    </nav>
  );
}

/**
 * A tablist of buttons: Left/Right/Home/End move between tabs and select them (automatic
 * activation); only the selected tab is in the Tab order.
 */
export function TabList({
  items,
  selected,
  onSelect,
  label,
  controls,
  testid,
}: {
  items: { id: string; label: ComponentChildren }[];
  selected: string;
  onSelect: (id: string) => void;
  label: string;
  controls?: string;
  testid?: string;
}) {
  const refs = useRef<(HTMLButtonElement | null)[]>([]);
  const onKey = (e: KeyboardEvent, i: number) => {
    let next = -1;
    if (e.key === 'ArrowRight') next = (i + 1) % items.length;
    else if (e.key === 'ArrowLeft') next = (i - 1 + items.length) % items.length;
    else if (e.key === 'Home') next = 0;
    else if (e.key === 'End') next = items.length - 1;
    if (next < 0) return;
    e.preventDefault();
    onSelect(items[next]!.id);
    refs.current[next]?.focus();
  };
  return (
    <div class="tablist" role="tablist" aria-label={label} data-testid={testid}>
      {items.map((it, i) => {
        const on = it.id === selected;
        return (
          <button
            key={it.id}
            ref={(el) => {
              refs.current[i] = el;
            }}
            type="button"
            role="tab"
            class={`tab${on ? ' active' : ''}`}
            aria-selected={on}
            aria-controls={controls}
            tabIndex={on ? 0 : -1}
            data-tab={it.id}
            onClick={() => onSelect(it.id)}
            onKeyDown={(e) => onKey(e, i)}
          >
            {it.label}
          </button>
        );
      })}
    </div>
  );
}
