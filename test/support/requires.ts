// Guards for tests that need something beyond Node: root, a command on PATH, network namespaces.
// A missing requirement fails the test with a message naming exactly what is missing and how to
// get it. Nothing is skipped: CI installs every requirement and must run every test. The checks
// themselves are the ones `sensorwire experiment` runs (src/netns/requirements.ts); only the
// advice for root differs.
import { command, requireAll, type Requirement } from '../../src/netns/requirements.ts';

export { command, requireAll, type Requirement };

export const root: Requirement = {
  what: 'root privileges (uid 0)',
  fix: 'run the tests as root, as CI does',
  met: () => process.getuid?.() === 0,
};
