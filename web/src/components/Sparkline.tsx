// A small line chart of the last samples, as SVG (no chart library; the page's CSP holds).

/** `top` is the value the chart's top stands for (a limit); the largest sample when unknown. */
export function Sparkline(
  { values, label, testid, top }: { values: number[]; label: string; testid: string; top?: number },
) {
  const w = 300;
  const h = 60;
  const max = Math.max(...values, top ?? 0, 1e-9);
  const step = values.length > 1 ? w / (values.length - 1) : w;
  const points = values.map((v, i) => `${(i * step).toFixed(1)},${(h - (v / max) * (h - 4) - 2).toFixed(1)}`).join(" ");
  return (
    <svg viewBox={`0 0 ${w} ${h}`} className="spark" role="img" aria-label={label} data-testid={testid}>
      <polyline points={points} fill="none" stroke="#0b5cad" strokeWidth="2" />
    </svg>
  );
}

/** Bytes per second between consecutive counters (a counter that went back, a restart, is 0). */
export function rates(counters: number[], seconds: number): number[] {
  return counters.slice(1).map((c, i) => Math.max(0, c - counters[i]) / seconds);
}
