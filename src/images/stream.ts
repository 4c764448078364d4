/**
 * Docker's build, pull and import endpoints answer with a stream of JSON events. followDockerStream turns it into
 * progress lines, remembers the last lines (for error messages) and reports the first error event, which Docker
 * sends with HTTP 200 — the request itself "succeeds" even when the build fails.
 */
import type Dockerode from 'dockerode';

export interface DockerStreamEvent {
  stream?: string;
  status?: string;
  progress?: string;
  id?: string;
  error?: string;
  errorDetail?: { message?: string };
  aux?: { ID?: string };
}

export interface StreamOutcome {
  /** the error event's message, if the daemon reported one */
  error?: string;
  /** the last output lines, oldest first */
  tail: string[];
  events: DockerStreamEvent[];
}

const TAIL_LINES = 25;

/** Render one event as zero or more printable lines (pure; exported for tests). */
export function eventLines(ev: DockerStreamEvent): string[] {
  if (ev.stream !== undefined) {
    return ev.stream
      .split('\n')
      .map((l) => l.replace(/\r$/, '').trimEnd())
      .filter((l) => l.length > 0);
  }
  if (ev.error !== undefined) return [`error: ${ev.errorDetail?.message ?? ev.error}`];
  if (ev.status !== undefined) {
    // pull progress bars are noise; keep the status itself
    return [[ev.id, ev.status].filter(Boolean).join(': ')];
  }
  return [];
}

export function followDockerStream(
  docker: Dockerode,
  stream: NodeJS.ReadableStream,
  onLine?: (line: string) => void,
): Promise<StreamOutcome> {
  const tail: string[] = [];
  let error: string | undefined;
  return new Promise((resolve, reject) => {
    docker.modem.followProgress(
      stream,
      (err: Error | null, events: DockerStreamEvent[]) => {
        if (err) reject(err);
        else resolve({ ...(error !== undefined ? { error } : {}), tail, events: events ?? [] });
      },
      (ev: DockerStreamEvent) => {
        if (ev.error !== undefined && error === undefined) error = ev.errorDetail?.message ?? ev.error;
        for (const line of eventLines(ev)) {
          tail.push(line);
          if (tail.length > TAIL_LINES) tail.shift();
          onLine?.(line);
        }
      },
    );
  });
}
