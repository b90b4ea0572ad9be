import { describe, expect, it } from 'vitest';
import { type Identity, authHeaders, can, cleanToken, describeIdentity } from './auth';

const who = (role: Identity['role'], groups: string[] = []): Identity => ({
  user: 'ada',
  groups,
  role,
  authenticated: true,
});

describe('auth', () => {
  it('cleans what copying a token adds', () => {
    expect(cleanToken('  tug_abc\n')).toBe('tug_abc');
    expect(cleanToken('Bearer tug_abc')).toBe('tug_abc');
    expect(cleanToken('bearer   eyJ.x.y ')).toBe('eyJ.x.y');
    expect(cleanToken('   ')).toBe('');
  });
  it('sends the token as a bearer header, and nothing without one', () => {
    expect(authHeaders('tug_abc')).toEqual({ Authorization: 'Bearer tug_abc' });
    expect(authHeaders(null)).toEqual({});
  });
  it('offers submit and stop to users and admins, not to viewers', () => {
    expect(can(who('viewer'), 'submit')).toBe(false);
    expect(can(who('viewer'), 'stop')).toBe(false);
    expect(can(who('user'), 'submit')).toBe(true);
    expect(can(who('user'), 'stop')).toBe(true);
    expect(can(who('admin'), 'stop')).toBe(true);
    // Without authentication (loopback) everyone may.
    expect(can(null, 'submit')).toBe(true);
  });
  it('describes who is signed in', () => {
    expect(describeIdentity(who('user', ['science', 'ml']))).toBe('ada (user · science, ml)');
    expect(describeIdentity(who('admin'))).toBe('ada (admin)');
  });
});
