/**
 * `npm run bench -- <command> [options]`
 *
 *   sync         the gateway's sync against the sandbox tenant, end to end (bench/sync.bench.ts)
 *   planner      the pure planners at scale (bench/planner.bench.ts)
 *   propagation  how long a directory change takes to reach the PBX (bench/propagation.bench.ts)
 *   insert       the first full sync's bulk writes, as done now and with bound parameters (bench/insert.bench.ts)
 *   mail         welcome emails a second through the gateway's SMTP sender (bench/mail.bench.ts)
 *   flood        the public Graph webhook under a flood of forged notifications (bench/flood.bench.ts)
 *   lookup       the Linkus lookups at 1,000,000 contacts, in process and over HTTP (bench/lookup.bench.ts)
 *   sso          Linkus sign-ins with Microsoft, end to end against the sandbox (bench/linkus-sso.bench.ts)
 *   linkus-auth  a Linkus access token vs an API key: what checking the bearer costs per request (bench/linkus-auth.bench.ts)
 *   presence     from a Teams presence change to extensionPresenceChanged (bench/presence.bench.ts)
 *   contacts     the contact sync against the sandbox's mailboxes: first sync, no-change re-sync (bench/contacts.bench.ts)
 *   fleet        1,000 PBXs on one gateway: their initial syncs at once, Update Now during them, 1 vs 2 worker processes (bench/fleet.bench.ts)
 *   cpuprofile   summarizes a .cpuprofile file (e.g. one written by `sync --profile`)
 *
 * Each command is a module that exports its entry point taking argv (or, for planner, a
 * script that runs on import); to add one, add an entry to COMMANDS. Each bench writes its
 * figures to bench/results/<name>.json (bench/support/results.ts; BENCH_RESULTS_DIR elsewhere),
 * from which `npm run bench:readme` (bench/readme-table.ts) writes the README's performance section.
 */
type Command = { describe: string; run: (argv: string[]) => Promise<void> };

const COMMANDS: Record<string, Command> = {
  sync: {
    describe:
      'sync against the sandbox: first full sync, no-change and 1,000-change re-syncs, Graph requests, RSS',
    run: async (argv) => (await import('./sync.bench.js')).main(argv),
  },
  planner: {
    describe: 'the pure planners at 100,000 users / 5,000 groups (in memory)',
    // The planner bench reads its options from process.argv (--users, --groups, ...) and runs on import.
    run: async () => {
      await import('./planner.bench.js');
    },
  },
  propagation: {
    describe: 'from a change in the tenant to the extension, through change notifications: p50 / p95 / max',
    run: async (argv) => (await import('./propagation.bench.js')).runPropagation(argv),
  },
  insert: {
    describe:
      "the full sync's bulk writes (extensions, snapshot): as the gateway does them vs bound parameters",
    run: async (argv) => (await import('./insert.bench.js')).main(argv),
  },
  mail: {
    describe: 'welcome emails a second: the gateway SMTP sender (pooled) vs a connection per message',
    run: async (argv) => (await import('./mail.bench.js')).main(argv),
  },
  flood: {
    describe:
      'the Graph webhook under a flood of forged notifications: /healthz and GraphQL p99, backlog, replays',
    run: async (argv) => (await import('./flood.bench.js')).main(argv),
  },
  lookup: {
    describe:
      'Linkus lookups at 1,000,000 contacts: lookupCaller and searchContacts p50 / p99 in process, lookups/s over HTTP',
    run: async (argv) => (await import('./lookup.bench.js')).main(argv),
  },
  sso: {
    describe:
      'Linkus sign-ins with Microsoft (S2) end to end: start, Microsoft, callback p50 / p95, sign-ins/s, requests to Microsoft per sign-in',
    run: async (argv) => (await import('./linkus-sso.bench.js')).main(argv),
  },
  'linkus-auth': {
    describe:
      'S4: a Linkus access token (JWT, in memory) vs an API key (database): bearer check p50 / p99, checks/s',
    run: async (argv) => (await import('./linkus-auth.bench.js')).main(argv),
  },
  presence: {
    describe:
      'from a Teams presence change in the sandbox to extensionPresenceChanged: p50 / p95, share of the presence quota, 429s, CPU',
    run: async (argv) => (await import('./presence.bench.js')).main(argv),
  },
  contacts: {
    describe:
      'contact sync against the sandbox: first sync of 1,000,000 contacts, no-change re-sync (Graph requests, $batch), RSS',
    run: async (argv) => (await import('./contacts.bench.js')).main(argv),
  },
  fleet: {
    describe:
      'a fleet of PBXs, each on its own sandbox directory, saving their rules at once: time to the last initial sync, p95 wait of a run, Update Now wait, 1 vs 2 worker processes',
    run: async (argv) => (await import('./fleet.bench.js')).main(argv),
  },
  cpuprofile: {
    describe: 'summarize a .cpuprofile: self time by area and function, inclusive time of project functions',
    run: async (argv) => (await import('./support/cpuprofile.js')).main(argv),
  },
};

function usage(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((k) => k.length));
  return [
    'usage: npm run bench -- <command> [options]',
    '',
    ...Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(width)}  ${c.describe}`),
    '',
    'e.g. npm run bench -- sync --users 100000 --groups 5000 --latency 0,300 --db sqlite,postgresql',
  ].join('\n');
}

async function main() {
  const [name, ...argv] = process.argv.slice(2);
  if (!name || name === '--help' || name === '-h') {
    console.log(usage());
    return;
  }
  const command = COMMANDS[name];
  if (!command) {
    console.error(`unknown bench '${name}'\n\n${usage()}`);
    process.exitCode = 2;
    return;
  }
  await command.run(argv);
}

main().then(
  () => process.exit(process.exitCode ?? 0),
  (err: unknown) => {
    console.error(err instanceof Error ? (err.stack ?? err.message) : err);
    process.exit(1);
  },
);
