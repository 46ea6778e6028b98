import type { Processors } from '../worker.js';
import { pingProcessor } from './ping.processor.js';

/** Every processor, by job name. Dependencies arrive through `deps` as use cases grow. */
export function buildProcessors(_deps: Record<string, never> = {}): Processors {
  return {
    ping: pingProcessor,
  };
}
