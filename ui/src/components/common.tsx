// Small shared pieces: status chips, notices, times.
import type { ComponentChildren } from 'preact';
import type { ApiError } from '../api/client';
import { formatDateTime, formatRelative, humanClass, parseTime } from '../lib/format';

const STATUS_HELP: Record<string, string> = {
  QUEUED: 'waiting to start',
  LAUNCHING: 'being launched',
  RUNNING: 'running now',
  RETRYING: 'an attempt failed; the next one is planned',
  SUCCEEDED: 'finished successfully',
  FAILED: 'finished with an error',
  STOPPED: 'stopped by a user',
  LOST: 'the platform lost track of it',
};

export function StatusChip({ status, small }: { status: string; small?: boolean }) {
  return (
    <span
      class={`chip status status-${status.toLowerCase()}${small ? ' chip-small' : ''}`}
      data-status={status}
      data-testid="status-chip"
      title={STATUS_HELP[status] ?? status}
    >
      <span class="dot" aria-hidden="true" />
      {status}
    </span>
  );
}

export function ClassChip({ cls, retryable }: { cls: string; retryable?: boolean | undefined }) {
  if (!cls) return null;
  return (
    <span class="chip class-chip" data-class={cls} title={retryable === undefined ? cls : `${cls} (${retryable ? 'retryable' : 'not retryable'})`}>
      {humanClass(cls)}
    </span>
  );
}

export function ErrorNotice({ error, what }: { error: ApiError | Error; what?: string }) {
  return (
    <div class="notice notice-error" role="alert">
      {what ? <strong>{what}: </strong> : null}
      {error.message}
    </div>
  );
}

export function Notice({ children, tone = 'info' }: { children: ComponentChildren; tone?: 'info' | 'warn' }) {
  return <div class={`notice notice-${tone}`}>{children}</div>;
}

export function Loading({ what }: { what: string }) {
  return (
    <p class="loading" aria-live="polite">
      Loading {what}…
    </p>
  );
}

/** A time as "5 min ago" with the full local time on hover (and for screen readers). */
export function When({ at, now }: { at: string | null | undefined; now: number }) {
  const ms = parseTime(at);
  if (ms === null) return <span class="muted">—</span>;
  return (
    <time dateTime={at ?? undefined} title={formatDateTime(ms)}>
      {formatRelative(ms, now)}
    </time>
  );
}

/** A full local time. */
export function At({ at }: { at: string | null | undefined }) {
  const ms = parseTime(at);
  if (ms === null) return <span class="muted">—</span>;
  return <time dateTime={at ?? undefined}>{formatDateTime(ms)}</time>;
}

export function shortId(id: string): string {
  return id.length > 12 ? `${id.slice(0, 10)}…` : id;
}
