/**
 * Path rules shared by pack and unpack: what an archive path may be, and
 * whether a symlink stays inside the root once every link it passes through
 * is followed. Pure functions over archive paths, so both sides apply the
 * same rule to the same tree.
 */

/**
 * Normalises an archive path to `a/b/c` (no leading `./`, no trailing `/`);
 * '' is the root itself. Returns an error reason for anything that could
 * land outside the root.
 */
export function normaliseArchivePath(p: string): { path: string } | { error: string } {
  if (p.includes('\u0000')) return { error: 'contains a NUL byte' };
  if (p.startsWith('/')) return { error: 'is an absolute path' };
  const parts = p.split('/').filter((c) => c !== '' && c !== '.');
  if (parts.includes('..')) return { error: 'contains a ".." component' };
  return { path: parts.join('/') };
}

const MAX_LINK_HOPS = 40;

/**
 * Follows `link` through `symlinks` (archive path → target) the way the
 * kernel would inside the root, and returns why it escapes, or null when it
 * stays inside. Targets that do not exist stay lexical.
 */
export function symlinkEscape(link: string, symlinks: ReadonlyMap<string, string>): string | null {
  const stack = link.split('/');
  stack.pop();
  let queue = linkTargetParts(symlinks.get(link) ?? '');
  if (!queue) return 'its target is absolute';
  let hops = 0;
  while (queue.length) {
    const c = queue.shift()!;
    if (c === '' || c === '.') continue;
    if (c === '..') {
      if (!stack.length) return 'its target leaves the root';
      stack.pop();
      continue;
    }
    stack.push(c);
    const next = symlinks.get(stack.join('/'));
    if (next === undefined) continue;
    if (++hops > MAX_LINK_HOPS) return 'it loops through other symlinks';
    const parts = linkTargetParts(next);
    if (!parts) return `it passes through ${stack.join('/')}, whose target is absolute`;
    stack.pop();
    queue = [...parts, ...queue];
  }
  return null;
}

function linkTargetParts(target: string): string[] | null {
  return target.startsWith('/') ? null : target.split('/');
}
