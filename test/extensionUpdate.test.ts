import { describe, expect, it } from 'vitest';
import { compareVersions, rollbackSteps, updateTarget } from '../ops/lib/index.js';

describe('TimescaleDB versions', () => {
  it('order numerically, not as text', () => {
    expect(['2.28.3', '2.9.0', '2.22.1', '2.22.0', '2.29.2'].sort(compareVersions)).toEqual(['2.9.0', '2.22.0', '2.22.1', '2.28.3', '2.29.2']);
    expect(compareVersions('2.23.0-dev', '2.23.0')).toBeLessThan(0);
  });

  it('an update goes to the server default or the version asked for, never backwards', () => {
    const at = (installed: string | null, serverDefault: string) => ({ installed, serverDefault, available: ['2.22.1', '2.28.3'] });
    expect(updateTarget(at('2.22.1', '2.28.3'))).toBe('2.28.3');
    expect(updateTarget(at('2.22.1', '2.22.1'), '2.28.3')).toBe('2.28.3');
    expect(updateTarget(at('2.22.1', '2.22.1'))).toBe('2.22.1');
    // A database newer than the server's default stays where it is (there is no way down).
    expect(updateTarget(at('2.28.3', '2.22.1'))).toBe('2.28.3');
    expect(updateTarget(at(null, '2.28.3'))).toBeNull();
  });

  it('the rollback names the old image and the proven backup', () => {
    expect(rollbackSteps('2.22.1', 15, '20261201T120000Z-aetherlens')).toEqual([
      'TimescaleDB has no way back in place (no downgrade script to 2.22.1); to return to the data as it was before the upgrade:',
      '1. run TimescaleDB 2.22.1 again on an empty data directory: the image timescale/timescaledb:2.22.1-pg15 with a new volume (keep the upgraded one until you are sure)',
      '2. aetherlens-db restore 20261201T120000Z-aetherlens --yes   (the backup drilled before the upgrade; it restores at 2.22.1)',
    ]);
  });
});
