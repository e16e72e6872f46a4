import type { State } from "../types";

export function StateBadge({ state }: { state: State }) {
  return (
    <span className={`state state-${state}`} data-state={state}>
      {state}
    </span>
  );
}
