/** The life of the Microsoft 365 integration (L1–L8). */
export enum IntegrationStatus {
  NOT_CONNECTED = 'NOT_CONNECTED',
  AWAITING_CONSENT = 'AWAITING_CONSENT',
  CONNECTED = 'CONNECTED',
  DISABLED = 'DISABLED',
}
