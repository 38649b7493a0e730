import { OpsError } from '../errors.js';

/**
 * The problems found while resolving settings, collected so that an operator sees all of them at
 * once, in one CONFIG error (exit 2), instead of fixing them one run at a time.
 */
export class SettingsProblems {
  private readonly found: string[] = [];

  add(problem: string): void {
    this.found.push(problem);
  }

  /** Runs a check that reports by throwing (a parser, a validator) and keeps its message. */
  check<T>(fn: () => T): T | undefined {
    try {
      return fn();
    } catch (error) {
      this.add((error as Error).message);
      return undefined;
    }
  }

  get count(): number {
    return this.found.length;
  }

  /** One CONFIG error naming every problem: one line for one, a bulleted line each for several. */
  throwIfAny(): void {
    if (this.found.length === 0) return;
    if (this.found.length === 1) throw new OpsError('CONFIG', this.found[0]!);
    throw new OpsError('CONFIG', `configuration has ${this.found.length} problems:\n${this.found.map((p) => `  - ${p}`).join('\n')}`);
  }
}
