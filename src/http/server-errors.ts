import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';

/**
 * The gateway's answer to an error that no route answered itself (Fastify's `setErrorHandler`).
 *
 * - A client error (status 400–499: a body that does not parse or is too large, a content
 *   type Fastify cannot read, a rate limit's 429) keeps Fastify's answer: its message is
 *   Fastify's or the plugin's own, about the request.
 * - Anything else is the gateway's own failure: logged at error level with the request id
 *   (Fastify's default handler logged nothing, request logging being off), and answered with
 *   that id and nothing of the error. Its message may hold a SQL statement with its values (a
 *   sealed secret, an address), a file path or a stack: Fastify's default handler sent it to
 *   whoever asked, a browser on the OAuth callback included.
 */
export function answerUnhandledError(err: FastifyError, request: FastifyRequest, reply: FastifyReply) {
  const status = err.statusCode ?? 500;
  if (status >= 400 && status < 500) {
    // As Fastify's default handler does: headers the error carries (a rate limit's Retry-After).
    const headers = (err as FastifyError & { headers?: Record<string, string> }).headers;
    if (headers) reply.headers(headers);
    return reply.code(status).send(err);
  }
  request.log.error(
    { err, method: request.method, route: request.routeOptions.url ?? 'unmatched' },
    'request failed',
  );
  return reply
    .code(status >= 500 && status < 600 ? status : 500)
    .header('cache-control', 'no-store')
    .send({
      statusCode: status >= 500 && status < 600 ? status : 500,
      code: 'INTERNAL',
      error: 'Internal Server Error',
      message: `The gateway could not answer this request. Its log has the details under request id ${request.id}.`,
      requestId: request.id,
    });
}
