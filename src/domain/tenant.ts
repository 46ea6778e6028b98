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
    let ok = false;
    try {
      const u = new URL(s.publicBaseUrl);
      ok = (u.protocol === 'https:' || u.protocol === 'http:') && !u.search && !u.hash;
    } catch {
      ok = false;
    }
    if (!ok)
      problems.push({ field: 'publicBaseUrl', message: 'must be an http(s) URL without query or fragment' });
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
