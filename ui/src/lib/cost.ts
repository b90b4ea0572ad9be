// Cost per run for display (the server prices attempts; this only formats). Pure.
import type { Run, RunCost } from '../api/types';

/** "$0.42", "$0.0042", "$0.0000012" (two significant digits below a cent); "0.42 EUR". */
export function formatMoney(amount: number | null | undefined, currency = 'USD'): string {
  if (amount === null || amount === undefined || !Number.isFinite(amount)) return '—';
  let text: string;
  if (amount === 0) text = '0';
  else if (Math.abs(amount) >= 0.01) text = amount.toFixed(2);
  else {
    const decimals = Math.min(1 - Math.floor(Math.log10(Math.abs(amount))), 12);
    text = amount.toFixed(decimals);
  }
  return currency === 'USD' ? `$${text}` : `${text} ${currency}`;
}

export interface CostSummary {
  /** "$0.42" */
  total: string;
  /** "retries cost $0.10", or null when no attempt failed (or none was priced). */
  retries: string | null;
  /** "requested basis; running attempts estimated to now" */
  note: string;
}

/** What the run page says about a run's cost; null when the server sends none. */
export function costSummary(run: Pick<Run, 'cost'>): CostSummary | null {
  const c: RunCost | null | undefined = run.cost;
  if (!c) return null;
  const currency = c.currency ?? 'USD';
  const notes: string[] = [];
  if (c.basis) notes.push(`${c.basis} basis`);
  if (c.estimated) notes.push('running attempts estimated to now');
  return {
    total: formatMoney(c.total, currency),
    retries: c.retries > 0 ? `retries cost ${formatMoney(c.retries, currency)}` : null,
    note: notes.join('; '),
  };
}
