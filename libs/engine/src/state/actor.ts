import { hostname, userInfo } from 'node:os';

/**
 * Who is acting, for the lock, the audit log and the history. In CI the OS
 * user is the runner's service account, so the actor the forge names (the
 * person who pushed or pressed "run workflow") is the useful one.
 */
export interface Actor {
  user: string;
  host: string;
}

export function currentActor(vars: NodeJS.ProcessEnv = process.env): Actor {
  const user = vars.VEZA_ACTOR || vars.FORGEJO_ACTOR || vars.GITHUB_ACTOR || osUser();
  return { user, host: hostname() };
}

function osUser(): string {
  try {
    return userInfo().username;
  } catch {
    // No passwd entry (containers running under an arbitrary uid).
    return `uid-${process.getuid?.() ?? 'unknown'}`;
  }
}
