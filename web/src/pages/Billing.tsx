import { useState, type FormEvent } from "react";
import { api } from "../api";
import { Field, Problem } from "../components/Field";
import { UsageChart, type Usage } from "../components/UsageChart";
import { useAction, useGet, when } from "../fetching";
import { formatBytes } from "../validate";

interface Plan {
  plan: string;
  monthly: string;
  price: string;
  limits: { cpus: number; memory: number; disk: number };
  period_start?: number;
}
interface Tx {
  id: string;
  kind: string;
  memo: string;
  amount: string;
  created_at: number;
}

export function Billing() {
  const balance = useGet<{ credits: string }>("/v1/billing/balance");
  const plan = useGet<Plan>("/v1/billing/plan");
  const catalog = useGet<{ plans: Plan[] }>("/v1/billing/plans");
  const txs = useGet<Tx[]>("/v1/billing/transactions");
  const usage = useGet<Usage>("/v1/billing/usage");
  const act = useAction();
  const [voucher, setVoucher] = useState("");

  const reload = () => {
    balance.reload();
    plan.reload();
    txs.reload();
  };
  async function redeem(e: FormEvent) {
    e.preventDefault();
    const ok = await act.run(() => api("POST", "/v1/billing/payments", { provider: "voucher", token: voucher.trim() }));
    if (ok !== undefined) {
      setVoucher("");
      reload();
    }
  }

  return (
    <section>
      <h1>Billing</h1>
      <Problem error={act.error ?? balance.error ?? plan.error} />
      <div className="grid">
        <div className="card">
          <h2>Balance</h2>
          <p className="big" data-testid="balance">{balance.data?.credits ?? "…"} credits</p>
          <form onSubmit={redeem}>
            <Field label="Voucher code" name="voucher" required value={voucher} onChange={(e) => setVoucher(e.target.value)} />
            <button type="submit" disabled={act.busy}>Redeem</button>
          </form>
        </div>
        <div className="card">
          <h2>Plan</h2>
          {plan.data && (
            <p>
              <strong>{plan.data.plan}</strong>: {plan.data.limits.cpus} cpus, {formatBytes(plan.data.limits.memory)} memory,{" "}
              {formatBytes(plan.data.limits.disk)} disk; {plan.data.monthly} credits a month for {plan.data.price}.
            </p>
          )}
          <div className="actions" role="group" aria-label="Switch plan">
            {(catalog.data?.plans ?? []).filter((p) => p.plan !== plan.data?.plan).map((p) => (
              <button key={p.plan} type="button" className="secondary" disabled={act.busy}
                onClick={() => void act.run(() => api("PUT", "/v1/billing/plan", { plan: p.plan })).then(reload)}>
                Switch to {p.plan} ({p.price})
              </button>
            ))}
          </div>
        </div>
      </div>
      <div className="card wide">
        <h2>Usage this month</h2>
        <Problem error={usage.error} />
        {usage.data && <UsageChart usage={usage.data} />}
      </div>
      <div className="card wide">
        <h2>Transactions</h2>
        <table className="list">
          <thead>
            <tr>
              <th scope="col">When</th>
              <th scope="col">Kind</th>
              <th scope="col" className="narrow">Memo</th>
              <th scope="col">Amount</th>
            </tr>
          </thead>
          <tbody>
            {(txs.data ?? []).map((t) => (
              <tr key={t.id}>
                <td>{when(t.created_at)}</td>
                <td>{t.kind}</td>
                <td className="narrow">{t.memo}</td>
                <td className="mono">{t.amount}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </section>
  );
}
