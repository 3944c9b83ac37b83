// What a command or test needs beyond Node (root, a program on PATH), checked before anything
// starts, so that a missing piece is named with the way to install it instead of failing halfway.
import { execFileSync } from 'node:child_process';

export interface Requirement {
  /** What is needed, e.g. "the command 'tcpdump' on PATH". */
  readonly what: string;
  /** How to get it, e.g. "apt-get install -y tcpdump". */
  readonly fix: string;
  /** True when the requirement is met on this machine. */
  readonly met: () => boolean;
}

/** A program on PATH, from the Debian package `debianPackage`. */
export function command(name: string, debianPackage = name): Requirement {
  return {
    what: `the command '${name}' on PATH`,
    fix: `apt-get install -y ${debianPackage}`,
    met: () => {
      try {
        execFileSync('sh', ['-c', `command -v ${name}`], { stdio: 'ignore' });
        return true;
      } catch {
        return false;
      }
    },
  };
}

export const root: Requirement = {
  what: 'root privileges (uid 0)',
  fix: 'run it as root (e.g. with sudo)',
  met: () => process.getuid?.() === 0,
};

/** The requirements among `needs` that this machine does not meet, in order. */
export function missingRequirements(needs: readonly Requirement[]): Requirement[] {
  return needs.filter((n) => !n.met());
}

/** Thrown by requireAll; `missing` lists what is not there. */
export class MissingRequirementError extends Error {
  override readonly name = 'MissingRequirementError';
  readonly missing: readonly Requirement[];

  constructor(missing: readonly Requirement[]) {
    super(`missing: ${missing.map((m) => `${m.what} (${m.fix})`).join('; ')}`);
    this.missing = missing;
  }
}

/** Throws a MissingRequirementError naming each missing requirement and its fix, unless all are met. */
export function requireAll(...needs: Requirement[]): void {
  const missing = missingRequirements(needs);
  if (missing.length > 0) throw new MissingRequirementError(missing);
}
