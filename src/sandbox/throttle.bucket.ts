/**
 * Identity and access throttling as Microsoft documents it
 * (https://learn.microsoft.com/graph/throttling-limits#identity-and-access-service-limits):
 * a token bucket of resource units per application + tenant per 10 seconds, sized by
 * the tenant (S < 50 users: 3,500; M 50–500: 5,000; L > 500: 8,000); request costs by
 * path (GET users 2, GET groups/{id}/members 3, transitiveMembers 5, others 1), −1 with
 * $select, +1 with $expand, −1 with $top < 20, never below 1. Responses carry
 * `x-ms-resource-unit`, and `x-ms-throttle-limit-percentage` above 80 % use; a throttled
 * one gets 429 with Retry-After, `x-ms-throttle-scope` and `x-ms-throttle-information`.
 * `x-ms-throttle-priority: low` requests are throttled first (they may not dig into the
 * last 20 % of the bucket).
 */
export const WINDOW_SECONDS = 10;

export function tenantLimit(userCount: number): number {
  if (userCount < 50) return 3500;
  if (userCount <= 500) return 5000;
  return 8000;
}

export function requestCost(method: string, path: string, query: URLSearchParams): number {
  const m = method.toUpperCase();
  const segs = path.replace(/^\/+|\/+$/g, '').split('/');
  let base = 1;
  if (m === 'GET') {
    if (segs.length === 1 && segs[0] === 'users') base = 2;
    else if (segs[0] === 'groups' && segs.length >= 3 && segs[2] === 'members') base = 3;
    else if (segs[0] === 'groups' && segs.length >= 3 && segs[2] === 'transitiveMembers') base = 5;
    else if (
      (segs[0] === 'me' || segs[0] === 'users') &&
      /^(memberOf|transitiveMemberOf)$/.test(segs.at(-1) ?? '')
    )
      base = 2;
  } else if (m === 'POST' && /directoryObjects\/getByIds$/.test(path)) {
    base = 3;
  }
  let cost = base;
  if (query.has('$select')) cost -= 1;
  if (query.has('$expand')) cost += 1;
  const top = Number(query.get('$top'));
  if (query.has('$top') && Number.isFinite(top) && top < 20) cost -= 1;
  return Math.max(1, cost);
}

export interface ThrottleDecision {
  allowed: boolean;
  cost: number;
  headers: Record<string, string>;
  retryAfterSeconds?: number;
}

export class ResourceUnitBuckets {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();

  take(
    appId: string,
    tenantId: string,
    limit: number,
    cost: number,
    priority: string | undefined,
    now = Date.now(),
  ): ThrottleDecision {
    const key = `${appId}/${tenantId}`;
    const rate = limit / (WINDOW_SECONDS * 1000);
    let b = this.buckets.get(key);
    if (!b) {
      b = { tokens: limit, at: now };
      this.buckets.set(key, b);
    }
    b.tokens = Math.min(limit, b.tokens + (now - b.at) * rate);
    b.at = now;
    const reserve = priority?.toLowerCase() === 'low' ? limit * 0.2 : 0;
    const headers: Record<string, string> = { 'x-ms-resource-unit': String(cost) };
    if (b.tokens - cost < reserve) {
      const missing = cost + reserve - b.tokens;
      const retryAfterSeconds = Math.max(1, Math.ceil(missing / rate / 1000));
      headers['Retry-After'] = String(retryAfterSeconds);
      headers['x-ms-throttle-scope'] = `Tenant_Application/ReadWrite/${appId}/${tenantId}`;
      headers['x-ms-throttle-information'] = 'ResourceUnitLimitExceeded';
      headers['x-ms-throttle-limit-percentage'] = ((limit - b.tokens + cost) / limit).toFixed(1);
      return { allowed: false, cost, headers, retryAfterSeconds };
    }
    b.tokens -= cost;
    const used = (limit - b.tokens) / limit;
    if (used > 0.8) headers['x-ms-throttle-limit-percentage'] = Math.min(1.8, used).toFixed(1);
    return { allowed: true, cost, headers };
  }

  reset(): void {
    this.buckets.clear();
  }
}
