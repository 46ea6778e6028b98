import type { ApiRole } from '../domain/access.js';
import type { ApiKeyRecord, IntegrationRecord, PbxRecord, PbxSettings } from '../domain/tenant.js';

/**
 * The ports the use cases read and write through. Adapters (src/store, src/m365,
 * jobs/) implement them; src/app never imports an adapter.
 */

export interface TenantRepository {
  findPbx(id: string): Promise<PbxRecord | null>;
  listPbxs(): Promise<PbxRecord[]>;
  createPbx(settings: PbxSettings): Promise<PbxRecord>;
  updatePbx(id: string, patch: Partial<PbxSettings>): Promise<PbxRecord>;
  findActiveKeyByHash(hash: string): Promise<ApiKeyRecord | null>;
  createKey(input: {
    pbxId: string;
    role: ApiRole;
    hash: string;
    prefix: string;
    label: string | null;
  }): Promise<ApiKeyRecord>;
  revokeKeys(pbxId: string, label: string, now: Date): Promise<number>;
  getIntegration(pbxId: string): Promise<IntegrationRecord>;
}

/** One unit of work: repositories bound to one database session. */
export interface Store {
  tenants: TenantRepository;
  /** Runs `fn` in one transaction; everything it writes commits together or not at all. */
  transactional<T>(fn: (store: Store) => Promise<T>): Promise<T>;
}
