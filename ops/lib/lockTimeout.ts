/** How long a run waits for another run's lock before it gives up and names the holder (AETHERLENS_LOCK_TIMEOUT). */
export const DEFAULT_LOCK_TIMEOUT_MS = 120_000;
