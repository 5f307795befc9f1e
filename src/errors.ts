/** An error whose message and code are meant for the client: `{error, code}` with `status`. */
export class AppError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    /** Extra fields for the error body, e.g. the field that failed validation. */
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
  }
}

export const badRequest = (code: string, message: string, details?: Record<string, unknown>) =>
  new AppError(400, code, message, details);
export const unauthorized = (code: string, message: string) => new AppError(401, code, message);
export const forbidden = (code: string, message: string) => new AppError(403, code, message);
export const notFound = (code: string, message: string) => new AppError(404, code, message);
export const conflict = (code: string, message: string) => new AppError(409, code, message);

export const chatNotFound = () => notFound('CHAT_NOT_FOUND', 'Chat not found');
export const userNotFound = (who?: string | number) =>
  notFound('USER_NOT_FOUND', who === undefined ? 'User not found' : `User ${JSON.stringify(who)} not found`);
export const messageNotFound = () => notFound('MESSAGE_NOT_FOUND', 'Message not found');
