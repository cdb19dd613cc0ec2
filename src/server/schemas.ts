import { z } from '@hono/zod-openapi';

/** The RFC 9457 problem document every error is sent as. */
export const ProblemSchema = z
  .object({
    type: z.string(),
    title: z.string(),
    status: z.number().int(),
    detail: z.string(),
    code: z.string().openapi({ description: 'ferry’s error code, the same as the CLI’s (E_NOT_FOUND, E_GATE …), or E_FORBIDDEN' }),
    exitCode: z.number().int().optional().openapi({ description: 'the CLI’s exit status for the same error' }),
    hint: z.string().optional().openapi({ description: 'how to fix it' }),
    instance: z.string().optional(),
  })
  .openapi('Problem');

/** An OpenAPI response of JSON `schema`, for a route's `responses`. */
export const jsonResponse = <T extends z.ZodType>(description: string, schema: T) => ({ description, content: { 'application/json': { schema } } });

/** An OpenAPI response of an RFC 9457 problem document, for a route's `responses`. */
export const problemResponse = (description: string) => ({ description, content: { 'application/problem+json': { schema: ProblemSchema } } });
