import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { connect, type PeerCertificate } from 'node:tls';

/**
 * What a client of the edge sees, for the certificate tests (local and
 * Incus): the chain a TLS handshake for a server name presents, verified
 * against a given CA, and one request's status and redirect, each on a new
 * connection.
 */
export function tlsPeer(address: string, port: number, servername: string, ca: string): Promise<{ authorized: boolean; error?: string; cert: PeerCertificate }> {
  return new Promise((resolve, reject) => {
    const sock = connect({ host: address, port, servername, ca, rejectUnauthorized: false }, () => {
      const out = { authorized: sock.authorized, error: sock.authorizationError ? String(sock.authorizationError) : undefined, cert: sock.getPeerCertificate() };
      sock.end();
      resolve(out);
    });
    sock.setTimeout(5000, () => sock.destroy(new Error('timeout')));
    sock.on('error', reject);
  });
}

/** `timeoutMs`: how long the socket may stay silent (the answer to a request the edge is retrying elsewhere comes late). */
export function get(scheme: 'http' | 'https', address: string, port: number, path: string, hostHeader: string, ca?: string, timeoutMs = 5000): Promise<{ status: number; location?: string }> {
  return new Promise((resolve, reject) => {
    const opts = { host: address, port, path, headers: { host: hostHeader }, agent: false as const, timeout: timeoutMs, servername: hostHeader, ca };
    const req = (scheme === 'https' ? httpsRequest : httpRequest)(opts, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, location: res.headers.location }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}
