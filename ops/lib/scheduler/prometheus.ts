import { writeFileAtomic } from '../atomicFile.js';
import { redact } from '../secrets.js';
import type { JobStatus, SchedulerStatus, StepName } from './status.js';

interface Metric {
  name: string;
  help: string;
  type: 'gauge' | 'counter';
  samples: Array<{ labels?: Record<string, string>; value: number | undefined }>;
}

/** Label values escape backslash, double quote and newline (exposition format 0.0.4). */
function labelValue(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

const seconds = (iso: string | undefined): number | undefined => (iso ? Date.parse(iso) / 1000 : undefined);

/** Per job script: last run, success, duration, and counters of runs, failures, skipped ticks and timeouts. */
function jobMetrics(status: SchedulerStatus): Metric[] {
  const jobs = Object.entries(status.jobs ?? {});
  const per = (value: (j: JobStatus) => number | undefined) => jobs.map(([job, j]) => ({ labels: { job }, value: value(j) }));
  return [
    { name: 'aetherlens_job_last_run_timestamp_seconds', help: 'Unix time the job last started.', type: 'gauge', samples: per((j) => seconds(j.lastRun?.at)) },
    { name: 'aetherlens_job_last_run_success', help: '1 if the job\'s last run succeeded, else 0.', type: 'gauge', samples: per((j) => (j.lastRun ? Number(j.lastRun.verdict === 'ok') : undefined)) },
    { name: 'aetherlens_job_last_duration_seconds', help: 'How long the job\'s last run took, in seconds.', type: 'gauge', samples: per((j) => j.lastRun?.seconds) },
    { name: 'aetherlens_job_last_success_timestamp_seconds', help: 'Unix time the job last finished successfully.', type: 'gauge', samples: per((j) => seconds(j.lastSuccessAt)) },
    { name: 'aetherlens_job_runs_total', help: 'Runs of the job since the status file was created.', type: 'counter', samples: per((j) => j.runs) },
    { name: 'aetherlens_job_failures_total', help: 'Failed runs of the job (timeouts included).', type: 'counter', samples: per((j) => j.failures) },
    { name: 'aetherlens_job_timeouts_total', help: 'Runs of the job killed at their timeout.', type: 'counter', samples: per((j) => j.timeouts) },
    { name: 'aetherlens_job_skipped_total', help: 'Ticks skipped because the job was still running.', type: 'counter', samples: per((j) => j.skipped) },
  ];
}

/**
 * The node_exporter textfile for a status: times as Unix seconds, sizes in bytes, durations in
 * seconds, counters with _total. A metric with no value yet (no backup so far) is left out
 * rather than exported as 0, which alert rules would read as "1970".
 */
export function renderPrometheus(status: SchedulerStatus): string {
  const target = { target: status.target };
  const steps: StepName[] = ['backup', 'drill', 'rotate', 'jobs'];
  const metrics: Metric[] = [
    { name: 'aetherlens_backup_last_attempt_timestamp_seconds', help: 'Unix time the last backup run started.', type: 'gauge', samples: [{ value: seconds(status.lastAttempt?.startedAt) }] },
    { name: 'aetherlens_backup_last_run_success', help: '1 if the last backup run (backup, drill, rotation) succeeded, else 0.', type: 'gauge', samples: [{ value: status.lastAttempt ? Number(status.lastAttempt.verdict === 'ok') : undefined }] },
    { name: 'aetherlens_backup_last_success_timestamp_seconds', help: 'Unix time the last backup was written successfully.', type: 'gauge', samples: [{ value: seconds(status.lastBackup?.createdAt) }] },
    { name: 'aetherlens_backup_last_size_bytes', help: 'Size of the last backup written, in bytes.', type: 'gauge', samples: [{ value: status.lastBackup?.bytes }] },
    { name: 'aetherlens_backup_last_duration_seconds', help: 'How long the last successful backup took, in seconds.', type: 'gauge', samples: [{ value: status.lastBackup?.seconds }] },
    { name: 'aetherlens_backup_last_verified_timestamp_seconds', help: 'Unix time the newest backup that passed a restore drill was taken.', type: 'gauge', samples: [{ value: seconds(status.lastVerified?.createdAt) }] },
    { name: 'aetherlens_drill_restore_seconds', help: 'Restore time (RTO) measured by the last restore drill, in seconds.', type: 'gauge', samples: [{ value: status.lastDrill?.restoreSeconds }] },
    { name: 'aetherlens_drill_last_success', help: '1 if the last restore drill passed, else 0.', type: 'gauge', samples: [{ value: status.lastDrill ? Number(status.lastDrill.ok) : undefined }] },
    { name: 'aetherlens_backup_failures_total', help: 'Failed steps since the scheduler was first started with this status file.', type: 'counter', samples: steps.map((step) => ({ labels: { step }, value: status.counters.failures[step] })) },
    { name: 'aetherlens_drill_fingerprint_mismatches_total', help: 'Restore drills whose data fingerprint did not match the backup manifest.', type: 'counter', samples: [{ value: status.counters.fingerprintMismatches }] },
    ...jobMetrics(status),
    { name: 'aetherlens_backup_max_age_seconds', help: 'Age above which the last verified backup counts as stale.', type: 'gauge', samples: [{ value: status.schedule.maxBackupAgeSeconds }] },
  ];
  const lines: string[] = [];
  for (const metric of metrics) {
    const present = metric.samples.filter((s) => s.value !== undefined && Number.isFinite(s.value));
    if (present.length === 0) continue;
    lines.push(`# HELP ${metric.name} ${metric.help}`, `# TYPE ${metric.name} ${metric.type}`);
    for (const sample of present) {
      const labels = Object.entries({ ...target, ...sample.labels }).map(([k, v]) => `${k}="${labelValue(v)}"`).join(',');
      lines.push(`${metric.name}{${labels}} ${String(sample.value)}`);
    }
  }
  return `${lines.join('\n')}\n`;
}

/** Writes the .prom file atomically, so node_exporter never scrapes half a file. */
export async function writePrometheusFile(path: string, status: SchedulerStatus): Promise<void> {
  await writeFileAtomic(path, redact(renderPrometheus(status)), 0o644);
}
