import { createLocalRegistry } from '../local-registry';

/**
 * Runs one local-registry upload in its own process, so a test can SIGKILL it
 * mid-copy. argv: <registry root> <source path> <sha256>
 */
const [root, source, sha256] = process.argv.slice(2) as [string, string, string];
createLocalRegistry(root)
  .upload({ owner: 'veza', package: 'veza-api', version: 'local-0123456789ab', file: 'veza-api.tar.zst' }, source, sha256)
  .then((r) => process.stdout.write(`${r}\n`));
