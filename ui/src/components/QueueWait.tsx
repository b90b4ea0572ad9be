// On the run page: where a run waiting for its team queue stands, and which limit holds it.
import type { Run } from '../api/types';
import { describePosition, queueWait } from '../lib/queues';
import { queuesHref } from '../lib/route';

export function QueueWaitNotice({ run }: { run: Run }) {
  const w = queueWait(run);
  if (!w) return null;
  return (
    <p class="queue-wait" data-testid="queue-wait" data-queue={w.queue} data-position={w.position ?? ''}>
      <span class="label">Queue</span> <a href={queuesHref()}>{w.queue}</a>
      {' · '}
      <span data-testid="queue-position">{describePosition(w)}</span>
      {w.reason ? (
        <>
          {' · '}
          <span data-testid="queue-reason">{w.reason}</span>
        </>
      ) : null}
    </p>
  );
}
