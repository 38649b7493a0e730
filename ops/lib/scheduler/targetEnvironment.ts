/**
 * The label the scheduler's status file, logs and notifications give its target, known without
 * opening it (targetTraits). Its secrets are Settings.secrets; its jobs' environment is
 * settings/childEnvironment.ts.
 */
import type { TargetSpec } from '../config.js';
import { targetTraits } from '../targets/open.js';

/** A description of the target that is safe for logs and the status file (no password). */
export function targetLabel(spec: TargetSpec): string {
  return targetTraits(spec).label;
}
