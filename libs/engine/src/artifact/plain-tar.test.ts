import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { plainTar } from './plain-tar';
import { tempDir, writeTree } from './testing/helpers';
import { tarEntries } from './tar-entries';

test('plainTar is an uncompressed tar of the tree with its modes and links, which the engine\'s own reader reads back', async (t) => {
  const root = await tempDir(t);
  await writeTree(root, { 'bin/tool': '#!/bin/sh\n', 'public/index.html': '<p>', 'current': { symlink: 'public' } });
  await fs.chmod(join(root, 'bin/tool'), 0o755);
  const tar = await plainTar(root);
  assert.equal(tar.length % 512, 0);
  async function* once() {
    yield tar;
  }
  const seen: string[] = [];
  for await (const e of tarEntries(once(), 'plain')) {
    let body = '';
    for await (const chunk of e.body) body += chunk.toString();
    seen.push(`${e.path} ${e.kind} ${e.mode.toString(8)}${e.linkpath ? ` -> ${e.linkpath}` : ''}${body ? ` ${JSON.stringify(body)}` : ''}`);
  }
  assert.deepEqual(seen, ['bin/ dir 755', 'bin/tool file 755 "#!/bin/sh\\n"', 'current symlink 777 -> public', 'public/ dir 755', 'public/index.html file 644 "<p>"']);
});
