import { STATUS_CODES } from "node:http";
import type { FastifyError, FastifyReply, FastifyRequest } from "fastify";

/** The body of every error response. */
export interface ErrorBody {
  /** The HTTP reason phrase of `statusCode`. */
  readonly error: string;
  readonly statusCode: number;
  /** A short explanation meant for the client; never a stack trace or an internal detail. */
  readonly message: string;
}

/** Builds the JSON error body for a status code. */
export function errorBody(statusCode: number, message?: string): ErrorBody {
  const reason = STATUS_CODES[statusCode] ?? "Error";
  return { error: reason, statusCode, message: message ?? reason };
}

/**
 * Turns any thrown error into a JSON error response. Client errors raised by the framework
 * (`FST_*` codes: body too large, unsupported media type, ...) keep their message, which fastify
 * writes for clients; anything else, including a JSON parser's message that quotes the body, gets
 * the reason phrase only. Server errors are logged in full and answered with a generic 500.
 */
export function handleError(error: FastifyError, request: FastifyRequest, reply: FastifyReply) {
  const status = error.statusCode;
  if (status !== undefined && status >= 400 && status < 500) {
    const message = error.code?.startsWith("FST_") ? error.message : undefined;
    return reply.code(status).send(errorBody(status, message));
  }
  request.log.error({ err: error }, "request failed");
  return reply.code(500).send(errorBody(500));
}
