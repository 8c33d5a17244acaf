/** The one API client, typed from the API's OpenAPI document (schema.d.ts is generated). */
import createClient, { type Middleware } from "openapi-fetch";
import type { components, paths } from "./schema";
import { currentToken, refresh } from "@/lib/session";

export type Schemas = components["schemas"];

const auth: Middleware = {
  onRequest({ request }) {
    const token = currentToken();
    if (token) request.headers.set("authorization", `Bearer ${token}`);
    return request;
  },
  async onResponse({ request, response }) {
    // An expired token (a laptop waking up): refresh once and replay. Only reads, whose
    // bodies are empty and which change nothing if the first attempt did count.
    if (response.status !== 401 || request.method !== "GET") return response;
    if (!(await refresh())) return response;
    const again = new Request(request);
    again.headers.set("authorization", `Bearer ${currentToken()}`);
    return fetch(again);
  },
};

export const api = createClient<paths>({ baseUrl: "", cache: "no-store" });
api.use(auth);

/** The message of the API's error shape, for display. */
export function errorMessage(error: unknown): string {
  if (error && typeof error === "object" && "error" in error) {
    const inner = (error as { error?: { message?: unknown } }).error;
    if (inner && typeof inner.message === "string") return inner.message;
  }
  if (error instanceof Error) return error.message;
  return "Something went wrong.";
}
