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
  const gateway = await startGateway(config);
  const onSignal = (signal: string) => {
    gateway.logger.info({ signal }, 'signal received');
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
  process.once('SIGTERM', onSignal);
  process.once('SIGINT', onSignal);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
