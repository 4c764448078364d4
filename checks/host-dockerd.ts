/** The Docker daemon answers its API (ping + version on the socket). */
import { fixWithHostStart, hostCheck } from './host-rows.js';

export const hostDockerd = hostCheck('host.dockerd', 'dockerd answers', ['dockerd'], {
  fix: fixWithHostStart,
});
