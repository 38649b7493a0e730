import type pg from 'pg';

/**
 * Exact fingerprints of what the seeder wrote: counts, integer sums in meter units and a hash of
 * every row's identity and state. Engine-independent (no float sums, no time zone in the text),
 * so the embedded and the native suite pin the same values.
 */
export async function seedChecksums(client: pg.Client): Promise<{ metrics: string; cost: string; hourly: string }> {
  const metrics = await client.query<{ c: string }>(`
    SELECT concat_ws(' ', count(*), sum(power_deciwatts), sum(energy_milliwatt_hours), sum(voltage_decivolts),
                     sum(current_milliamps), sum(power_factor_percent), sum(frequency_centihertz),
                     sum(temperature_decicelsius),
                     md5(string_agg(device_id || ':' || extract(epoch FROM time)::bigint || ':' || state, ',' ORDER BY device_id, time))) AS c
    FROM metrics`);
  const cost = await client.query<{ c: string }>(`
    SELECT concat_ws(' ', count(*), sum(cost), sum(round(energy_kwh * 1000000))::bigint,
                     md5(string_agg(device_id || ':' || extract(epoch FROM time)::bigint || ':' || rate_period || ':' || cost, ',' ORDER BY device_id, time))) AS c
    FROM cost_calculations`);
  const hasAggregates = (await client.query<{ ok: boolean }>(`SELECT to_regclass('public.metrics_hourly') IS NOT NULL AS ok`)).rows[0]!.ok;
  const hourly = hasAggregates
    ? (await client.query<{ c: string }>(`SELECT concat_ws(' ', count(*), sum(energy_milliwatt_hours)) AS c FROM metrics_hourly`)).rows[0]!.c
    : 'none';
  return { metrics: metrics.rows[0]!.c, cost: cost.rows[0]!.c, hourly };
}
