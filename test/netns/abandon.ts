// Creates a namespace pair and then never closes it: ends by an uncaught exception (when a line
// arrives on stdin) or by a signal. The test checks that the helper's exit hooks still
// delete the namespaces. Prints "pair NAME_A NAME_B PID" where PID runs inside namespace a.
import { createNetPair } from '../support/netns.ts';

const pair = await createNetPair();
const child = pair.spawn('a', 'sleep', ['30']);
process.stdout.write(`pair ${pair.a.name} ${pair.b.name} ${child.pid}\n`);
// Until told, on stdin, to throw (or killed): bounded by a 30 s stop of its own.
setTimeout(() => process.exit(3), 30_000).unref();
process.stdin.once('data', () => {
  throw new Error('a test that fails without closing its pair');
});
