import { z } from 'zod';

export const schema = z.strictObject({}).meta({
  title: 'Package a component',
  description: 'Packs dist/build/<project>/root into a deterministic dist/artifacts/<project>/<package>-<version>.tar.zst (sorted entries, fixed mtime and owner, normalised modes, independent zstd frames) and writes dist/artifacts/<project>/manifest.json with its sha256, size and file count. Needs a finished build (dist/build/<project>/build.json).',
});
