// copy-verified: copies the newest *verified* backup to another directory (a NAS mount, a USB
// disk) and proves the copy: its sha256 must equal the one in the backup's manifest, or the job
// fails loudly. Copy it into your AETHERLENS_JOBS_DIR and schedule it, e.g.
//   "jobs": { "copy-verified": { "cron": "30 3 * * *", "timeout": "1h" } }
// The scheduler runs it with zx's globals ($, fs, path, which, ...) and `aetherlens-db` on PATH.
const to = process.env.BACKUP_COPY_TO;
if (!to) {
  console.error('error: set BACKUP_COPY_TO to the directory that receives the copies');
  process.exit(2);
}

const catalog = JSON.parse((await $`aetherlens-db backups --json`).stdout);
const newest = catalog.filter((b) => b.status === 'verified').at(-1);
if (!newest) {
  console.error('error: there is no verified backup to copy yet: run aetherlens-db job run backup first');
  process.exit(1);
}

await fs.mkdirp(to);
if (await which('rsync', { nothrow: true })) await $`rsync -a ${newest.path} ${to}/`;
else await $`cp -a ${newest.path} ${to}/`;

const manifest = await fs.readJson(path.join(newest.path, 'manifest.json'));
const copy = path.join(to, newest.id, manifest.dump.file);
const sha256 = (await $`sha256sum ${copy}`).stdout.split(' ')[0];
if (sha256 !== newest.sha256) {
  console.error(`error: the copy ${copy} has sha256 ${sha256} but the backup's manifest says ${newest.sha256}: the copy is not the backup, do not rely on it`);
  process.exit(1);
}
console.log(JSON.stringify({ ok: true, copied: newest.id, to, sha256 }));
