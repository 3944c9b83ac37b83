// Guards for tests that need something beyond Node: root, a command on PATH, network namespaces.
// On a developer machine without it, the test is skipped with a message naming exactly what is
// missing and how to get it. Under CI (CI=true) a missing requirement fails the test instead,
// because CI must run every test.
import { execFileSync } from 'node:child_process';
import type { TestContext } from 'node:test';

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

/**
 * Returns true when every requirement is met. Otherwise skips the test (developer machine) or
 * fails it (CI), naming each missing requirement and how to install it.
 */
export function requires(t: TestContext, ...needs: Requirement[]): boolean {
  const missing = needs.filter((n) => !n.met());
  if (missing.length === 0) return true;
  const text = `missing: ${missing.map((m) => `${m.what} (${m.fix})`).join('; ')}`;
  if (process.env.CI === 'true') throw new Error(`this test cannot run in CI, ${text}`);
  t.skip(text);
  return false;
}
