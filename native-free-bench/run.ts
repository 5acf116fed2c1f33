/** `npm run bench`: every micro-benchmark, each against its baseline in the same process. */
import { run as chunkReader } from './chunk-reader.bench.js';

console.log(`node ${process.version}, ${process.arch}`);
chunkReader();
