/** Event topics, one place. Every topic is scoped to one PBX. */
export const Topic = {
  integrationChanged: (pbxId: string) => `integration-changed:${pbxId}`,
  syncProgress: (pbxId: string) => `sync-progress:${pbxId}`,
} as const;
