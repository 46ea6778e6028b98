import type { Caller } from '../domain/access.js';
import { type PbxRecord, type PbxSettings, validatePbxSettings } from '../domain/tenant.js';
import { AppError } from './errors.js';
import type { Store } from './ports/store.port.js';

export const DEFAULT_PBX_SETTINGS: PbxSettings = {
  name: 'PBX',
  timeZone: 'UTC',
  publicBaseUrl: null,
  extensionCapacity: 500,
  defaultCountry: 'US',
};

export async function getPbx(store: Store, caller: Caller): Promise<PbxRecord> {
  const pbx = await store.tenants.findPbx(caller.pbxId);
  if (!pbx) throw new AppError('NOT_FOUND', 'This PBX no longer exists');
  return pbx;
}

export async function createPbx(store: Store, settings: Partial<PbxSettings>): Promise<PbxRecord> {
  const full = { ...DEFAULT_PBX_SETTINGS, ...settings };
  const problems = validatePbxSettings(full);
  if (problems.length) throw AppError.invalidInput(problems);
  return store.transactional((tx) => tx.tenants.createPbx(full));
}

export async function updatePbx(
  store: Store,
  caller: Caller,
  patch: Partial<PbxSettings>,
): Promise<PbxRecord> {
  const problems = validatePbxSettings(patch);
  if (problems.length) throw AppError.invalidInput(problems);
  return store.transactional((tx) => tx.tenants.updatePbx(caller.pbxId, patch));
}
