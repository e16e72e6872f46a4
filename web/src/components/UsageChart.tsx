// Usage by day as stacked bars, one colour per resource, drawn as SVG (no chart library, no
// inline script: the page's CSP holds).

export interface Cost {
  instance: string;
  cpu: string;
  memory: string;
  disk: string;
  total: string;
}

export interface Usage {
  from: string;
  to: string;
  total: Cost;
  days: { day: string; instance_id: string; name: string; cost: Cost }[];
}

export const PARTS = [
  { key: "instance", label: "Instance", colour: "#8a96a3" },
  { key: "cpu", label: "CPU", colour: "#0b5cad" },
  { key: "memory", label: "Memory", colour: "#2f9e44" },
  { key: "disk", label: "Disk", colour: "#e67700" },
] as const;

type Part = (typeof PARTS)[number]["key"];

/** Each day's cost per resource, summed over instances, in day order. */
export function byDay(u: Usage): { day: string; parts: Record<Part, number>; total: number }[] {
  const days = new Map<string, Record<Part, number>>();
  for (const row of u.days) {
    const d = days.get(row.day) ?? { instance: 0, cpu: 0, memory: 0, disk: 0 };
    for (const p of PARTS) d[p.key] += Number(row.cost[p.key]);
    days.set(row.day, d);
  }
  return [...days.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([day, parts]) => ({ day, parts, total: PARTS.reduce((s, p) => s + parts[p.key], 0) }));
}

export function UsageChart({ usage }: { usage: Usage }) {
  const days = byDay(usage);
  if (days.length === 0) return <p className="hint">No usage in this period.</p>;
  const max = Math.max(...days.map((d) => d.total), 1e-9);
  const w = 640;
  const h = 200;
  const bar = Math.max(4, Math.min(40, (w - 40) / days.length - 4));
  return (
    <figure className="chart">
      <svg viewBox={`0 0 ${w} ${h + 30}`} role="img" aria-label={`Usage by day, ${usage.from} to ${usage.to}`}
        data-testid="usage-chart">
        {days.map((d, i) => {
          let y = h;
          const x = 30 + i * (bar + 4);
          return (
            <g key={d.day}>
              <title>{`${d.day}: ${d.total.toFixed(4)} credits`}</title>
              {PARTS.map((p) => {
                const height = (d.parts[p.key] / max) * (h - 10);
                y -= height;
                return height > 0 ? <rect key={p.key} x={x} y={y} width={bar} height={height} fill={p.colour} /> : null;
              })}
              <text x={x + bar / 2} y={h + 16} fontSize="10" textAnchor="middle">{d.day.slice(5)}</text>
            </g>
          );
        })}
        <line x1="28" y1={h} x2={w} y2={h} stroke="#52606d" />
      </svg>
      <figcaption>
        {PARTS.map((p) => (
          <span key={p.key} className="legend">
            <span className="swatch" style={{ background: p.colour }} aria-hidden="true" /> {p.label}
          </span>
        ))}
        <span> · total {usage.total.total} credits</span>
      </figcaption>
    </figure>
  );
}
