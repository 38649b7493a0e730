/**
 * Runs a restore of the newest backup into an embedded data directory as the restore command does
 * (the site's cleanup, scratch copy, post-restore, swap), and kills itself with SIGKILL right
 * after the swap step named on the command line: `node --import tsx swapKill.harness.ts DATA_DIR
 * BACKUP_DIR STEP` (STEP "none" runs to the end and prints the swap's result as JSON).
 */
import { findBackup } from '../../ops/lib/backup/catalog.js';
import { silentLogger } from '../../ops/lib/logger.js';
import { embeddedSite, type EmbeddedSwapStep } from '../../ops/lib/targets/embedded/restoreSite.js';

const [dataDir, backupDir, killAt] = process.argv.slice(2) as [string, string, EmbeddedSwapStep | 'none'];
const entry = await findBackup(backupDir, 'latest');
const site = await embeddedSite({
  dataDir,
  purpose: 'restore',
  command: 'restore (swap kill harness)',
  onSwapStep: (step) => {
    if (step === killAt) process.kill(process.pid, 'SIGKILL');
  },
});
await site.cleanLeftovers(silentLogger);
const names = site.scratchName(site.defaultLive, 'restore', new Date());
const copy = await site.restoreCopy({
  manifest: entry.manifest!,
  dumpPath: entry.dumpPath!,
  purpose: 'restore',
  scratch: names.scratch,
  mode: 'two-phase',
  check: () => {},
  logger: silentLogger,
});
await copy.finish();
const swap = await copy.swapInto({ live: site.defaultLive, previous: names.previous, stamp: names.stamp, force: false, logger: silentLogger, backupId: entry.id });
await site.close();
process.stdout.write(`${JSON.stringify(swap)}\n`);
