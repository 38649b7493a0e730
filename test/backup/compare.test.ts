import { describe, expect, it } from 'vitest';
import { compareFingerprints, type Fingerprint } from '../../ops/lib/index.js';

function fingerprint(): Fingerprint {
  return {
    format: 1,
    extensions: { plpgsql: '1.0', timescaledb: '2.19.3' },
    tables: { devices: { rows: 3, hash: '123' }, migration_history: { rows: 6, hash: '456' } },
    hypertables: {
      metrics: {
        timeColumn: 'time',
        chunks: {
          _hyper_1_3_chunk: { rows: 2016, minTime: '2026-11-05 00:00:00+00', maxTime: '2026-11-11 23:55:00+00', sums: { device_id: '4032', power: '1234.5' } },
          _hyper_1_4_chunk: { rows: 100, minTime: '2026-11-12 00:00:00+00', maxTime: '2026-11-12 08:15:00+00', sums: { device_id: '200', power: '55.5' } },
        },
      },
    },
    continuousAggregates: { metrics_hourly: { materializedOnly: false, materializedRows: 168 } },
    jobs: { '1000': { proc: 'policy_refresh_continuous_aggregate', relation: 'metrics_hourly', schedule: '01:00:00', scheduled: true, config: '{"end_offset": "01:00:00"}' } },
    newestData: '2026-11-12T08:15:00.000Z',
  };
}

describe('compareFingerprints', () => {
  it('finds nothing when equal', () => {
    expect(compareFingerprints(fingerprint(), fingerprint())).toEqual([]);
  });

  it('says which table differs and how, reading backup → now', () => {
    const now = fingerprint();
    now.hypertables.metrics!.chunks._hyper_1_3_chunk!.rows = 2015;
    now.hypertables.metrics!.chunks._hyper_1_4_chunk!.sums.power = '56.5';
    now.tables.devices = { rows: 3, hash: '999' };
    delete now.tables.migration_history;
    now.extensions.timescaledb = '2.19.2';
    now.continuousAggregates.metrics_hourly!.materializedRows = 0;
    now.jobs['1000']!.scheduled = false;
    now.jobs['1001'] = { proc: 'policy_compression', relation: 'metrics', schedule: '12:00:00', scheduled: true, config: null };
    expect(compareFingerprints(fingerprint(), now)).toMatchInlineSnapshot(`
      [
        "extension timescaledb: version 2.19.3 → 2.19.2",
        "table devices: contents differ (3 rows in both)",
        "table migration_history: missing",
        "table metrics: chunk _hyper_1_3_chunk row count 2016 → 2015",
        "table metrics: chunk _hyper_1_4_chunk sum(power) 55.5 → 56.5",
        "continuous aggregate metrics_hourly: materialized rows 168 → 0",
        "job 1000 (policy_refresh_continuous_aggregate on metrics_hourly): no longer scheduled",
        "job 1001 (policy_compression on metrics): not in the backup",
      ]
    `);
  });

  it('reports missing and extra chunks and time ranges', () => {
    const now = fingerprint();
    delete now.hypertables.metrics!.chunks._hyper_1_4_chunk;
    now.hypertables.metrics!.chunks._hyper_1_3_chunk!.maxTime = '2026-11-11 23:50:00+00';
    now.hypertables.metrics!.chunks._hyper_1_9_chunk = { rows: 1, minTime: null, maxTime: null, sums: {} };
    expect(compareFingerprints(fingerprint(), now)).toMatchInlineSnapshot(`
      [
        "table metrics: chunk _hyper_1_3_chunk time range 2026-11-05 00:00:00+00 .. 2026-11-11 23:55:00+00 → 2026-11-05 00:00:00+00 .. 2026-11-11 23:50:00+00",
        "table metrics: chunk _hyper_1_4_chunk missing (100 rows in the backup)",
        "table metrics: chunk _hyper_1_9_chunk not in the backup (1 row)",
      ]
    `);
  });
});

describe('compareFingerprints with a format 1 backup (floats summed as floats)', () => {
  const legacy = (power: string): Fingerprint => {
    const f = fingerprint();
    f.hypertables.metrics!.chunks._hyper_1_3_chunk!.sums.power = power;
    return f;
  };
  const now = (power: string): Fingerprint => ({ ...legacy(power), format: 2 });

  it('takes a float sum that moved in its last digits (another row order) as equal', () => {
    expect(compareFingerprints(legacy('181.2420770000005'), now('181.242077'))).toEqual([]);
    expect(compareFingerprints(legacy('181.2420770000005'), now('181.24207700000053'))).toEqual([]);
  });

  it('still reports a sum that differs by more than that order can explain', () => {
    expect(compareFingerprints(legacy('181.2420770000005'), now('181.2420771'))).toEqual(['table metrics: chunk _hyper_1_3_chunk sum(power) 181.2420770000005 → 181.2420771']);
    expect(compareFingerprints(legacy('4032'), now('4033'))).toEqual(['table metrics: chunk _hyper_1_3_chunk sum(power) 4032 → 4033']);
  });

  it('compares format 2 with format 2 exactly', () => {
    expect(compareFingerprints(now('181.2420770000005'), now('181.24207700000053'))).toEqual(['table metrics: chunk _hyper_1_3_chunk sum(power) 181.2420770000005 → 181.24207700000053']);
  });

  it('refuses a format it does not know, saying which version to use', () => {
    const newer = { ...now('1'), format: 3 } as unknown as Fingerprint;
    expect(compareFingerprints(newer, now('1'))).toEqual(['fingerprint format 3 → 2: this aetherlens-db reads formats 1 to 2; verify the backup with the version that took it']);
  });
});
