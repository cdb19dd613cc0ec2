// A separate application process: `node subscriber.mjs <url> <flag> <unit>` prints
// "ready <value>" once its snapshot is in, then "value <value>" after each change.
import { createFlags } from '../../dist/sdk/index.js';

const [url, key, unit] = process.argv.slice(2);
const flags = createFlags({ url }, { heartbeatMs: 2000 });
flags.onChange(() => console.log(`value ${flags.isEnabled(key, unit)}`));
await flags.ready();
console.log(`ready ${flags.isEnabled(key, unit)}`);
process.on('SIGTERM', () => flags.close().then(() => process.exit(0)));
