import type { ApiRole } from './access.js';

/** A PBX (tenant) as the use cases see it. */
export interface PbxRecord {
  id: string;
  name: string;
  timeZone: string;
  publicBaseUrl: string | null;
  extensionCapacity: number;
  defaultCountry: string;
  createdAt: Date;
  updatedAt: Date;
}

export interface PbxSettings {
  name: string;
  timeZone: string;
  publicBaseUrl: string | null;
  extensionCapacity: number;
  defaultCountry: string;
}

export interface ApiKeyRecord {
  id: string;
  /** null: an OPERATOR key (of no PBX). */
  pbxId: string | null;
  role: ApiRole;
  /** A LINKUS key's extension (its Linkus session; deleting the extension deletes the key); null for other keys. */
  extensionId: string | null;
  prefix: string;
  label: string | null;
  createdAt: Date;
  revokedAt: Date | null;
}

export interface FieldProblem {
  field: string;
  message: string;
}

export function isIanaTimeZone(value: string): boolean {
  if (!value || value.length > 64) return false;
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: value });
    return true;
  } catch {
    return false;
  }
}

/** The longest URL a PBX's public base URL may be, and the longest DNS name (RFC 1035). */
export const MAX_PUBLIC_BASE_URL = 2048;
const MAX_HOST_NAME = 253;

/**
 * Why a public base URL cannot be taken, or null: an http(s) URL without query, fragment or
 * embedded credentials (it is shown to admins and sent to Microsoft as a redirect URI), whose
 * host is a DNS name of at most 253 characters.
 */
export function publicBaseUrlProblem(value: string): string | null {
  if (value.length > MAX_PUBLIC_BASE_URL) return `must be at most ${MAX_PUBLIC_BASE_URL} characters`;
  let u: URL;
  try {
    u = new URL(value);
  } catch {
    return 'must be an http(s) URL without query or fragment';
  }
  if ((u.protocol !== 'https:' && u.protocol !== 'http:') || u.search || u.hash)
    return 'must be an http(s) URL without query or fragment';
  if (u.username || u.password || /^[a-z]+:\/\/[^/]*@/i.test(value))
    return 'must not carry a user name or password (user:password@host)';
  const host = u.hostname.replace(/^\[|\]$/g, '');
  if (host.length > MAX_HOST_NAME) return `must have a host name of at most ${MAX_HOST_NAME} characters`;
  if (!host.includes(':') && host.split('.').some((label) => label.length > 63))
    return 'must have a host name whose labels are at most 63 characters';
  return null;
}

/** Checks PBX settings; returns every problem, not just the first. */
export function validatePbxSettings(s: Partial<PbxSettings>): FieldProblem[] {
  const problems: FieldProblem[] = [];
  if (s.name !== undefined && (s.name.trim().length === 0 || s.name.length > 200)) {
    problems.push({ field: 'name', message: 'must be 1 to 200 characters' });
  }
  if (s.timeZone !== undefined && !isIanaTimeZone(s.timeZone)) {
    problems.push({
      field: 'timeZone',
      message: `"${s.timeZone}" is not an IANA time zone (e.g. Europe/Berlin)`,
    });
  }
  if (s.publicBaseUrl !== undefined && s.publicBaseUrl !== null) {
    const problem = publicBaseUrlProblem(s.publicBaseUrl);
    if (problem) problems.push({ field: 'publicBaseUrl', message: problem });
  }
  if (
    s.extensionCapacity !== undefined &&
    (!Number.isInteger(s.extensionCapacity) || s.extensionCapacity < 1 || s.extensionCapacity > 1_000_000)
  ) {
    problems.push({ field: 'extensionCapacity', message: 'must be a whole number from 1 to 1,000,000' });
  }
  if (s.defaultCountry !== undefined && !/^[A-Z]{2}$/.test(s.defaultCountry)) {
    problems.push({
      field: 'defaultCountry',
      message: 'must be an ISO 3166-1 alpha-2 code such as US or DE',
    });
  }
  return problems;
}
