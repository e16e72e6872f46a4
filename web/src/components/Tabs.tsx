import { useRef, type KeyboardEvent } from "react";

/** A row of tabs: the chosen one filled, the rest outlined; each named from its key. As the
 *  WAI-ARIA tabs pattern asks, Tab reaches only the chosen one and the arrow keys (Home, End)
 *  move between them. */
export function Tabs<T extends string>(
  { tabs, current, label, onChange }: { tabs: readonly T[]; current: T; label: string; onChange: (t: T) => void },
) {
  const row = useRef<HTMLDivElement>(null);
  function move(e: KeyboardEvent) {
    const at = tabs.indexOf(current);
    const to = { ArrowRight: at + 1, ArrowLeft: at - 1, Home: 0, End: tabs.length - 1 }[e.key];
    if (to === undefined) return;
    e.preventDefault();
    const next = (to + tabs.length) % tabs.length;
    onChange(tabs[next]);
    row.current?.querySelectorAll<HTMLButtonElement>("[role=tab]")[next]?.focus();
  }
  return (
    <div className="tabs" role="tablist" aria-label={label} ref={row} onKeyDown={move}>
      {tabs.map((t) => (
        <button key={t} type="button" role="tab" aria-selected={current === t} className={current === t ? "" : "secondary"}
          tabIndex={current === t ? 0 : -1} onClick={() => onChange(t)}>
          {t[0].toUpperCase() + t.slice(1)}
        </button>
      ))}
    </div>
  );
}
