/** A row of tabs: the chosen one filled, the rest outlined; each named from its key. */
export function Tabs<T extends string>(
  { tabs, current, label, onChange }: { tabs: readonly T[]; current: T; label: string; onChange: (t: T) => void },
) {
  return (
    <div className="tabs" role="tablist" aria-label={label}>
      {tabs.map((t) => (
        <button key={t} type="button" role="tab" aria-selected={current === t} className={current === t ? "" : "secondary"}
          onClick={() => onChange(t)}>
          {t[0].toUpperCase() + t.slice(1)}
        </button>
      ))}
    </div>
  );
}
