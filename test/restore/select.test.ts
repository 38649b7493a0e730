import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { parseBefore, selectBackup } from '../../ops/lib/restore/select.js';
import { fakeManifest, failed, passed, writeFakeBackup } from './support.js';

let dir: string;
let empty: string;
let unverifiedOnly: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'aetherlens-select-'));
  empty = await mkdtemp(join(tmpdir(), 'aetherlens-select-empty-'));
  unverifiedOnly = await mkdtemp(join(tmpdir(), 'aetherlens-select-unverified-'));
  const b = (id: string, createdAt: string, verification: ReturnType<typeof passed> | null) => writeFakeBackup(dir, fakeManifest({ id, createdAt, verification }));
  await b('20261118T020000Z-aetherlens', '2026-11-18T02:00:00.000Z', passed());
  await b('20261119T020000Z-aetherlens', '2026-11-19T02:00:00.000Z', passed());
  await b('20261120T020000Z-aetherlens', '2026-11-20T02:00:00.000Z', passed());
  await b('20261121T020000Z-aetherlens', '2026-11-21T02:00:00.000Z', failed());
  await b('20261122T020000Z-aetherlens', '2026-11-22T02:00:00.000Z', null);
  await writeFakeBackup(unverifiedOnly, fakeManifest({ id: '20261122T020000Z-aetherlens', createdAt: '2026-11-22T02:00:00.000Z' }));
});
afterAll(async () => {
  for (const d of [dir, empty, unverifiedOnly]) await rm(d, { recursive: true, force: true });
});

describe('which backup a restore uses', () => {
  test.each([
    ['nothing given: the newest verified one', {}, '20261120T020000Z-aetherlens'],
    ['--latest-unverified: the newest never-drilled one (never one that failed)', { latestUnverified: true }, '20261122T020000Z-aetherlens'],
    ['--before: the newest verified one before that time', { before: new Date('2026-11-20T01:00:00Z') }, '20261119T020000Z-aetherlens'],
    ['--before with --latest-unverified', { before: new Date('2026-11-23T00:00:00Z'), latestUnverified: true }, '20261122T020000Z-aetherlens'],
    ['a named backup, whatever its status', { backup: '20261121T020000Z-aetherlens' }, '20261121T020000Z-aetherlens'],
  ])('%s', async (_name, selection, id) => {
    expect((await selectBackup(dir, selection)).id).toBe(id);
  });

  test('errors say what exists and what to do', async () => {
    await expect(selectBackup(dir, { before: new Date('2026-11-01T00:00:00Z') })).rejects.toThrow(`no verified backup taken before 2026-11-01T00:00:00.000Z in ${dir}: run aetherlens-db backups to see what there is`);
    await expect(selectBackup(unverifiedOnly, {})).rejects.toThrow(`no verified backup in ${unverifiedOnly}: the newest unverified one is 20261122T020000Z-aetherlens: run aetherlens-db verify 20261122T020000Z-aetherlens first, or pass --latest-unverified`);
    await expect(selectBackup(empty, {})).rejects.toThrow(`there are no backups in ${empty}: check --dir (or AETHERLENS_BACKUP_DIR)`);
  });
});

describe('--before', () => {
  test('local time as a person types it, or ISO 8601 with a zone', () => {
    expect(parseBefore('2026-11-20 10:00').getTime()).toBe(new Date(2026, 10, 20, 10, 0).getTime());
    expect(parseBefore('2026-11-20 10:00:30').getTime()).toBe(new Date(2026, 10, 20, 10, 0, 30).getTime());
    expect(parseBefore('2026-11-20T10:00:00Z').toISOString()).toBe('2026-11-20T10:00:00.000Z');
    expect(parseBefore('2026-11-20T10:00+02:00').toISOString()).toBe('2026-11-20T08:00:00.000Z');
    expect(parseBefore('2026-11-20').getTime()).toBe(new Date(2026, 10, 20).getTime());
  });

  test.each(['yesterday', '2026-13-40 10:00', '20.11.2026 10:00'])('refused: %s', (text) => {
    expect(() => parseBefore(text)).toThrow(`--before "${text}" is not a time: use "YYYY-MM-DD HH:MM" (local time) or an ISO 8601 time such as 2026-11-20T10:00:00Z`);
  });
});
