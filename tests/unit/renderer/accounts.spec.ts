// SPDX-License-Identifier: Apache-2.0
// Environment: Node (vitest). Account naming, the user filter's uids and the picker's search.
import { describe, expect, it } from 'vitest';
import type { Accounts } from '../../../electron/ipc/contract.js';
import {
  indexAccounts,
  searchAccounts,
  senderLabel,
  uidsMatching,
} from '../../../renderer/src/logic/accounts.js';

const ACCOUNTS: Accounts = {
  users: [
    { name: 'root', uid: 0 },
    { name: 'daemon', uid: 1 },
    { name: 'sshd', uid: 105 },
    { name: 'alice', uid: 1000 },
    { name: 'alice2', uid: 1000 },
    { name: 'bob', uid: 1001 },
    { name: 'nobody', uid: 65534 },
  ],
  groups: [
    { name: 'adm', gid: 4, members: ['alice'] },
    { name: 'admins', gid: 1500, members: ['alice', 'bob'] },
  ],
  truncated: false,
  humanUids: { min: 1000, max: 60000 },
};

describe('account naming', () => {
  const idx = indexAccounts(ACCOUNTS);
  it('names root, a uid with two names, a uid without an account, an unowned packet', () => {
    expect(senderLabel(idx, 0, '0')).toBe('root');
    expect(senderLabel(idx, 1000, 'alice')).toBe('alice, alice2 (uid 1000)');
    expect(senderLabel(idx, 4242, '4242')).toBe('uid 4242 (no account)');
    expect(senderLabel(idx, null, '(unowned)')).toBe('(unowned)');
    expect(senderLabel(null, 1001, 'bob')).toBe('bob');
  });
  it('indexes a list once', () => {
    expect(indexAccounts(ACCOUNTS)).toBe(idx);
  });
  it('a user filter means the uid behind any of its names, or the uid typed', () => {
    expect(uidsMatching(idx, '')).toBeNull();
    expect([...(uidsMatching(idx, 'alice2') ?? [])]).toEqual([1000]);
    expect([...(uidsMatching(idx, 'ALICE') ?? [])]).toEqual([1000]);
    expect([...(uidsMatching(idx, '4242') ?? [])]).toEqual([4242]);
    expect(uidsMatching(idx, 'zed')?.size).toBe(0);
  });
});

describe('account search', () => {
  const idx = indexAccounts(ACCOUNTS);
  it('offers human accounts first, then system ones, and says how many more match', () => {
    const all = searchAccounts(idx, '', 3);
    expect(all.picks.map((p) => p.value)).toEqual(['@admins', 'alice', 'alice2']);
    expect(all.picks.every((p) => p.human)).toBe(true);
    expect(all.more).toBe(ACCOUNTS.users.length + ACCOUNTS.groups.length - 3);
  });
  it('type-ahead: names starting with the text first, then containing it; groups by @name', () => {
    expect(searchAccounts(idx, 'ad', 10).picks.map((p) => p.value)).toEqual(['@admins', '@adm']);
    expect(searchAccounts(idx, '@adm', 10).picks.map((p) => p.value)).toEqual(['@admins', '@adm']);
    expect(searchAccounts(idx, 'o', 10).picks.map((p) => p.value)).toEqual([
      'bob',
      'daemon',
      'nobody',
      'root',
    ]);
    expect(searchAccounts(idx, 'sshd', 10).picks[0]).toEqual({
      value: 'sshd',
      label: 'sshd (uid 105)',
      human: false,
    });
  });
  it('finds an account by its exact id', () => {
    expect(searchAccounts(idx, '1001', 10).picks.map((p) => p.value)).toEqual(['bob']);
    expect(searchAccounts(idx, '1500', 10).picks.map((p) => p.value)).toEqual(['@admins']);
  });
  it('offers nothing while the accounts are unknown', () => {
    expect(searchAccounts(null, 'a', 10)).toEqual({ picks: [], more: 0 });
  });
});
