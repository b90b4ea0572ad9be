import { describe, expect, it } from 'vitest';
import { childrenPath, kChildrenShown } from './Lineage';

describe('childrenPath', () => {
  it('lists the children of a run by parent, newest first, one page', () => {
    expect(childrenPath('01jparent')).toBe(`/runs?parent=01jparent&limit=${kChildrenShown}`);
  });
  it('encodes the id', () => {
    expect(childrenPath('a b&c')).toBe(`/runs?parent=a+b%26c&limit=${kChildrenShown}`);
  });
});
