/** The connect flow's pending authorization, between `connect` and Microsoft's callback. */
export interface PendingAuthorization {
  pbxId: string;
  codeVerifier: string;
  redirectUri: string;
  /** Which attempt this is: a later connect makes an older callback invalid. */
  attempt: string;
  /** What the callback completes: a connect (default) or a reconsent of a connected integration. */
  purpose?: 'CONNECT' | 'RECONSENT';
  /** The sign-in (code, default) or the admin consent that follows it in the same journey. */
  step?: 'SIGN_IN' | 'ADMIN_CONSENT';
  /** false: never send the admin through admin consent; missing permissions fail at once. */
  adminConsent?: boolean;
}

/** Short-lived, single-use `state` values of the connect flow (Redis). */
export interface AuthStateStore {
  put(state: string, value: PendingAuthorization, ttlSeconds: number): Promise<void>;
  /** Returns the value and forgets it (a second take of the same state gets null). */
  take(state: string): Promise<PendingAuthorization | null>;
}
