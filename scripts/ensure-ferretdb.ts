import { ensureFerretBinary } from '../src/db/embedded';
import { createLogger } from '../src/logger';

// Builds the FerretDB wrapper into the user cache if needed and prints the binary's path.
process.stdout.write(`${ensureFerretBinary(createLogger('warn'))}\n`);
