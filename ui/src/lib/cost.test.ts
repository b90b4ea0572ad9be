import { describe, expect, it } from 'vitest';
import { costSummary, formatMoney } from './cost';

describe('formatMoney', () => {
  it('writes cents, and two significant digits below a cent', () => {
    expect(formatMoney(12.345)).toBe('$12.35');
    expect(formatMoney(0.0042)).toBe('$0.0042');
    expect(formatMoney(0.0000012345)).toBe('$0.0000012');
    expect(formatMoney(0)).toBe('$0');
    expect(formatMoney(1.5, 'EUR')).toBe('1.50 EUR');
    expect(formatMoney(null)).toBe('—');
  });
});

describe('costSummary', () => {
  it('shows the total and the retries apart', () => {
    const s = costSummary({
      cost: { currency: 'USD', total: 0.42, retries: 0.1, succeeded: 0.32, basis: 'requested', estimated: false },
    });
    expect(s).toEqual({ total: '$0.42', retries: 'retries cost $0.10', note: 'requested basis' });
  });
  it('says nothing of retries when none failed, and marks estimates', () => {
    const s = costSummary({ cost: { total: 0.5, retries: 0, basis: 'used', estimated: true } });
    expect(s?.retries).toBeNull();
    expect(s?.note).toBe('used basis; running attempts estimated to now');
  });
  it('is null without a cost', () => {
    expect(costSummary({ cost: null })).toBeNull();
    expect(costSummary({})).toBeNull();
  });
});
