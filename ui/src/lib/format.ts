// Formatting of times, durations, sizes and CPU for people. Pure.

/** Milliseconds since the epoch from an RFC 3339 string; null for null, empty, bad or epoch. */
export function parseTime(s: string | null | undefined): number | null {
  if (!s) return null;
  const m = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(Z|[+-]\d{2}:?\d{2})$/.exec(s);
  if (!m) return null;
  const [, y, mo, d, h, mi, se, frac, zone] = m;
  let t = Date.UTC(+y!, +mo! - 1, +d!, +h!, +mi!, +se!);
  if (frac) t += Math.floor(Number(`0.${frac}`) * 1000);
  if (zone && zone !== 'Z') {
    const sign = zone[0] === '-' ? -1 : 1;
    const digits = zone.slice(1).replace(':', '');
    t -= sign * (Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2, 4))) * 60_000;
  }
  // The store writes 0 for "never"; older encoders sent it as the epoch.
  if (t <= 86_400_000) return null;
  return t;
}

/** "850ms", "12s", "3m 05s", "2h 04m", "3d 4h". Negative or NaN gives "—". */
export function formatDuration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms) || ms < 0) return '—';
  if (ms < 1000) return `${Math.round(ms)}ms`;
  const totalSeconds = Math.floor(ms / 1000);
  if (totalSeconds < 60) {
    const s = ms / 1000;
    return s < 10 ? `${s.toFixed(1).replace(/\.0$/, '')}s` : `${totalSeconds}s`;
  }
  const days = Math.floor(totalSeconds / 86_400);
  const hours = Math.floor((totalSeconds % 86_400) / 3600);
  const minutes = Math.floor((totalSeconds % 3600) / 60);
  const seconds = totalSeconds % 60;
  if (days > 0) return `${days}d ${hours}h`;
  if (hours > 0) return `${hours}h ${String(minutes).padStart(2, '0')}m`;
  return `${minutes}m ${String(seconds).padStart(2, '0')}s`;
}

/** The duration between two RFC 3339 times; an open end uses `now`. */
export function spanMs(
  start: string | null | undefined,
  end: string | null | undefined,
  now: number,
): number | null {
  const s = parseTime(start);
  if (s === null) return null;
  const e = parseTime(end) ?? now;
  return Math.max(0, e - s);
}

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];

/** Binary units with up to 3 significant digits: "512 B", "64 MiB", "1.5 GiB". */
export function formatBytes(n: number | null | undefined): string {
  if (n === null || n === undefined || !Number.isFinite(n) || n < 0) return '—';
  let v = n;
  let u = 0;
  while (v >= 1024 && u < UNITS.length - 1) {
    v /= 1024;
    u++;
  }
  const text = u === 0 || v >= 100 ? Math.round(v).toString() : v >= 10 ? v.toFixed(1) : v.toFixed(2);
  const trimmed = text.includes('.') ? text.replace(/\.?0+$/, '') : text;
  return `${trimmed} ${UNITS[u]}`;
}

/** Bytes as the quantity users write: 134217728 → "128Mi"; no exact unit → the number. */
export function bytesToQuantity(bytes: number): string {
  const units: [string, number][] = [
    ['Ti', 2 ** 40],
    ['Gi', 2 ** 30],
    ['Mi', 2 ** 20],
    ['Ki', 2 ** 10],
  ];
  for (const [u, scale] of units) {
    if (bytes >= scale && bytes % scale === 0) return `${bytes / scale}${u}`;
  }
  return String(bytes);
}

/** Bytes from a number or a quantity string ("512Mi", "2Gi", "1G", "1048576"); null if invalid. */
export function parseBytes(v: number | string | null | undefined): number | null {
  if (v === null || v === undefined) return null;
  if (typeof v === 'number') return Number.isFinite(v) ? v : null;
  const m = /^\s*([0-9]*\.?[0-9]+)\s*([KMGTP]i?|[kmgtp]|B)?\s*$/.exec(v);
  if (!m) return null;
  const num = Number(m[1]);
  const unit = m[2] ?? '';
  const binary: Record<string, number> = { Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, Pi: 2 ** 50 };
  const decimal: Record<string, number> = { K: 1e3, k: 1e3, M: 1e6, m: 1e6, G: 1e9, g: 1e9, T: 1e12, t: 1e12, P: 1e15, p: 1e15 };
  const scale = binary[unit] ?? decimal[unit] ?? 1;
  return Math.round(num * scale);
}

/** CPU millicores from "500m", "2", "1.5" or a number of cores; null if invalid. */
export function parseCpuMillis(v: string | number | null | undefined): number | null {
  if (v === null || v === undefined) return null;
  if (typeof v === 'number') return Number.isFinite(v) ? Math.round(v * 1000) : null;
  const m = /^\s*([0-9]*\.?[0-9]+)\s*(m?)\s*$/.exec(v);
  if (!m) return null;
  const n = Number(m[1]);
  return m[2] === 'm' ? Math.round(n) : Math.round(n * 1000);
}

/** "0.5 CPU", "2 CPU", "250m CPU" for small values. */
export function formatCpuMillis(m: number | null | undefined): string {
  if (m === null || m === undefined || !Number.isFinite(m) || m < 0) return '—';
  if (m < 100 && m !== 0) return `${Math.round(m)}m CPU`;
  const cores = m / 1000;
  return `${Number(cores.toFixed(2))} CPU`;
}

function pad(n: number): string {
  return String(n).padStart(2, '0');
}

/** Local "2026-11-24 19:59:11". */
export function formatDateTime(ms: number | null | undefined): string {
  if (ms === null || ms === undefined) return '—';
  const d = new Date(ms);
  return (
    `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ` +
    `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`
  );
}

/** Local "19:59:11.704". */
export function formatClock(ms: number | null | undefined): string {
  if (ms === null || ms === undefined) return '—';
  const d = new Date(ms);
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${String(d.getMilliseconds()).padStart(3, '0')}`;
}

/** "just now", "42s ago", "5 min ago", "3 h ago", "2 d ago"; future times say "in …". */
export function formatRelative(ms: number | null | undefined, now: number): string {
  if (ms === null || ms === undefined) return '—';
  const diff = now - ms;
  const future = diff < 0;
  const a = Math.abs(diff) / 1000;
  let text: string;
  if (a < 5) return 'just now';
  if (a < 60) text = `${Math.floor(a)}s`;
  else if (a < 3600) text = `${Math.floor(a / 60)} min`;
  else if (a < 86_400) text = `${Math.floor(a / 3600)} h`;
  else text = `${Math.floor(a / 86_400)} d`;
  return future ? `in ${text}` : `${text} ago`;
}

/** A local datetime-local input value ("2026-11-24T19:59") from ms. */
export function toLocalInput(ms: number): string {
  const d = new Date(ms);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

/** The attempt number at the end of an attempt id ("<run>-3" → 3), or null. */
export function attemptNumberOf(attemptId: string | null | undefined): number | null {
  if (!attemptId) return null;
  const m = /-(\d+)$/.exec(attemptId);
  return m ? Number(m[1]) : null;
}

/** "batch_container_oom" → "batch container oom". */
export function humanClass(cls: string | null | undefined): string {
  return cls ? cls.replace(/_/g, ' ') : '';
}

export function plural(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}
