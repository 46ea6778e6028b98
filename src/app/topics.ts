/** Event topics, one place. Every topic is scoped to one PBX. */
export const Topic = {
  integrationChanged: (pbxId: string) => `integration-changed:${pbxId}`,
  syncProgress: (pbxId: string) => `sync-progress:${pbxId}`,
  /** P1–P3: an extension's presence changed (Teams, a mapping or a manual status). */
  extensionPresence: (pbxId: string) => `extension-presence:${pbxId}`,
} as const;
