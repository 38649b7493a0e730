// Which backup the drill job proves next: the kept backup whose last drill is the oldest.

export interface Listed {
  id: string;
  status: string;
  createdAt: string;
  verification: { verifiedAt: string } | null;
}

/**
 * The backup drilled longest ago (one never drilled first, then the oldest), among those that
 * can still pass (verified or not yet verified), unless even that one was drilled less than
 * `minAgeMs` ago.
 */
export function stalestBackup<T extends Listed>(catalog: readonly T[], now: number, minAgeMs: number): T | undefined {
  const lastDrilled = (b: Listed) => (b.verification ? Date.parse(b.verification.verifiedAt) : 0);
  return catalog
    .filter((b) => b.status === 'verified' || b.status === 'unverified')
    .filter((b) => now - lastDrilled(b) >= minAgeMs)
    .sort((a, b) => lastDrilled(a) - lastDrilled(b) || a.createdAt.localeCompare(b.createdAt))[0];
}
