import { ConfigError, loadConfig } from './config.js';
import { startGateway } from './gateway.js';

/** Entry point: `tsx src/main.ts [--role api|worker|all]`. */
async function main() {
  let config: ReturnType<typeof loadConfig>;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(err.message);
      process.exit(2);
    }
    throw err;
  }
  // Listening at once: /healthz and /readyz answer while the database and Redis are retried.
  const gateway = await startGateway(config, { waitUntilReady: false });
  let stopping = false;
  const onSignal = (signal: string) => {
    gateway.logger.info({ signal }, 'signal received');
    if (stopping) return;
    stopping = true;
    const timer = setTimeout(() => {
      gateway.logger.error({ timeoutMs: config.shutdownTimeoutMs }, 'graceful shutdown timed out');
      process.exit(1);
    }, config.shutdownTimeoutMs);
    timer.unref();
    gateway.stop().then(
      () => process.exit(0),
      (err) => {
        gateway.logger.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  // `on`, not `once`: the listener must stay, or a loader's own handler (tsx re-raises a
  // signal nobody else listens to) would kill the process mid-shutdown.
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
