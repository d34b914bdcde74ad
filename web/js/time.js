// Durations, steps and time labels.

const UNITS = { y: 365 * 86400e3, w: 7 * 86400e3, d: 86400e3, h: 3600e3, m: 60e3, s: 1e3, ms: 1 };

/** Parses a Prometheus duration ("1h30m", "2d", "90s") to ms; null if invalid. */
export function parseDuration(text) {
  const s = (text || '').trim();
  if (!s) return null;
  const re = /(\d+)(ms|y|w|d|h|m|s)/y;
  let total = 0;
  let pos = 0;
  while (pos < s.length) {
    re.lastIndex = pos;
    const m = re.exec(s);
    if (!m) return null;
    total += Number(m[1]) * UNITS[m[2]];
    pos = re.lastIndex;
  }
  return total > 0 ? total : null;
}

/** Formats ms as the shortest Prometheus duration ("1h30m"). */
export function formatDuration(ms) {
  let rest = Math.round(ms);
  let out = '';
  for (const [u, n] of Object.entries(UNITS)) {
    if (rest >= n) {
      out += `${Math.floor(rest / n)}${u}`;
      rest %= n;
    }
  }
  return out || '0s';
}

/**
 * The default step for a range: about 250 points, at least one second
 * (as the Prometheus UI chooses it).
 */
export function autoStepMs(rangeMs) {
  return Math.max(Math.floor(rangeMs / 250 / 1000), 1) * 1000;
}

/** The end time chosen in a datetime-local input (local time), or now. */
export function endMs(input) {
  if (!input.value) return Date.now();
  const t = new Date(input.value).getTime();
  return Number.isNaN(t) ? Date.now() : t;
}

const pad = (n) => String(n).padStart(2, '0');

/** An axis or tooltip label for a time; the date is added for long ranges. */
export function formatTime(ms, withDate) {
  const d = new Date(ms);
  const hms = `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
  return withDate ? `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${hms}` : hms;
}

/** Seconds as the APIs take them. */
export const toSeconds = (ms) => (ms / 1000).toFixed(3);
