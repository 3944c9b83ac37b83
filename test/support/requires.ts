// Guards for tests that need something beyond Node: root, a command on PATH, network namespaces.
// A missing requirement fails the test with a message naming exactly what is missing and how to
// get it. Nothing is skipped: CI installs every requirement and must run every test.
import { execFileSync } from 'node:child_process';

export interface Requirement {
  /** What is needed, e.g. "tcpdump on PATH". */
  readonly what: string;
  /** How to get it, e.g. "apt-get install -y tcpdump". */
  readonly fix: string;
  /** True when the requirement is met on this machine. */
  readonly met: () => boolean;
}

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
  fix: 'run the tests as root, as CI does',
  met: () => process.getuid?.() === 0,
};

/** Throws, naming each missing requirement and how to install it, unless all are met. */
export function requireAll(...needs: Requirement[]): void {
  const missing = needs.filter((n) => !n.met());
  if (missing.length === 0) return;
  throw new Error(`missing: ${missing.map((m) => `${m.what} (${m.fix})`).join('; ')}`);
}
