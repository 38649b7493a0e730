/**
 * The four questions the AetherLens API asks, each as the raw-data query (every edition) and,
 * where the community edition has continuous aggregates, as the aggregate query. Both forms of a
 * question return the same buckets: windows start on a bucket boundary (UTC), and the bench checks
 * the row counts agree. Raw rows are read in SI units through metrics_si; aggregates over raw rows
 * add up the integer meter units and convert once, as the continuous aggregates do.
 */

export interface BenchQuery {
  key: 'recent' | 'week' | 'month-daily' | 'month-cost';
  title: string;
  /** Takes $1 = device id. */
  perDevice: boolean;
  raw: string;
  /** From the continuous aggregates of migration 004; absent when raw data is the answer. */
  cagg?: string;
  /** The specification's target, in ms (a mean/any-run bound; we hold p95 to it). */
  specMs?: number;
  /** The p95 goal, in ms. */
  goalP95Ms?: number;
  /** The goal for aggregate against raw on the same engine. */
  goalSpeedup?: number;
  /** The p95 goal is set for the aggregate form: raw data on an edition without aggregates is not held to it. */
  goalNeedsCagg?: boolean;
}

export const QUERIES: readonly BenchQuery[] = [
  {
    key: 'recent',
    title: 'last 24 h of one device',
    perDevice: true,
    raw: `SELECT time, power_w, energy_wh, voltage_v, current_a, power_factor, frequency_hz, temperature_c, state
            FROM metrics_si
           WHERE device_id = $1 AND time > now() - interval '24 hours'
           ORDER BY time DESC`,
    specMs: 50,
    goalP95Ms: 5,
  },
  {
    key: 'week',
    title: '7 days hourly of one device',
    perDevice: true,
    raw: `SELECT time_bucket('1 hour', time) AS bucket, avg(power_deciwatts)::float8 / 10 AS avg_power_w,
                 max(power_deciwatts)::float8 / 10 AS max_power_w, sum(energy_milliwatt_hours)::float8 / 1000 AS energy_wh
            FROM metrics
           WHERE device_id = $1 AND time >= time_bucket('1 hour', now()) - interval '7 days'
           GROUP BY bucket ORDER BY bucket`,
    cagg: `SELECT bucket, avg_power_w, max_power_w, energy_wh
             FROM metrics_hourly
            WHERE device_id = $1 AND bucket >= time_bucket('1 hour', now()) - interval '7 days'
            ORDER BY bucket`,
    specMs: 500,
    goalP95Ms: 10,
  },
  {
    key: 'month-daily',
    title: '30 days daily, all devices',
    perDevice: false,
    raw: `SELECT time_bucket('1 day', time) AS bucket, device_id, avg(power_deciwatts)::float8 / 10 AS avg_power_w,
                 max(power_deciwatts)::float8 / 10 AS max_power_w, sum(energy_milliwatt_hours)::float8 / 1000 AS energy_wh
            FROM metrics
           WHERE time >= time_bucket('1 day', now()) - interval '30 days'
           GROUP BY bucket, device_id ORDER BY bucket, device_id`,
    cagg: `SELECT bucket, device_id, avg_power_w, max_power_w, energy_wh
             FROM metrics_daily
            WHERE bucket >= time_bucket('1 day', now()) - interval '30 days'
            ORDER BY bucket, device_id`,
    goalP95Ms: 20,
    goalSpeedup: 35,
    goalNeedsCagg: true,
  },
  {
    key: 'month-cost',
    title: 'cost of the current month, per device',
    perDevice: false,
    raw: `SELECT device_id, sum(energy_kwh) AS energy_kwh, sum(cost) AS cost
            FROM cost_calculations
           WHERE time >= date_trunc('month', now(), 'UTC')
           GROUP BY device_id ORDER BY device_id`,
    cagg: `SELECT device_id, sum(energy_kwh) AS energy_kwh, sum(cost) AS cost
             FROM cost_daily
            WHERE bucket >= date_trunc('month', now(), 'UTC')
            GROUP BY device_id ORDER BY device_id`,
  },
];
