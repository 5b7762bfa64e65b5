// A small client of the platform, typed by the types openapi-typescript generates from
// /openapi.json (src/api.d.ts). A caller names the statuses it handles; each must be one the
// document declares for that operation, and each answer's body has that status's type. So a
// status the client handles but the document no longer declares, a renamed field or a removed
// operation fails `tsc`.
import type { components, paths } from "./api";

export type Problem = components["schemas"]["Problem"];
type Method = "get" | "post" | "put" | "patch" | "delete";
type Operation<P extends keyof paths, M extends Method> = NonNullable<paths[P][M]>;
type Responses<P extends keyof paths, M extends Method> =
  Operation<P, M> extends { responses: infer R } ? R : never;
type BodyOf<R> =
  R extends { content: { "application/json": infer B } } ? B
  : R extends { content: { "application/problem+json": infer B } } ? B
  : undefined;
type RequestBody<P extends keyof paths, M extends Method> =
  Operation<P, M> extends { requestBody?: { content: { "application/json": infer B } } } ? B : never;

/** One answer among those the caller handles: `status` tells which body it has. */
export type Answer<P extends keyof paths, M extends Method, S extends keyof Responses<P, M>> =
  S extends unknown ? { status: S; body: BodyOf<Responses<P, M>[S]> } : never;

export interface Request<P extends keyof paths, M extends Method> {
  params?: Record<string, string>;
  query?: Record<string, string>;
  body?: RequestBody<P, M>;
}

export class UnexpectedAnswer extends Error {
  constructor(readonly status: number, readonly body: unknown) {
    super(`unexpected status ${status}`);
  }
}

export class Api {
  private token: string | undefined;

  constructor(private readonly baseUrl: string) {}

  async send<P extends keyof paths, M extends Method, S extends keyof Responses<P, M> & number>(
    path: P, method: M, request: Request<P, M>, handled: readonly S[],
  ): Promise<Answer<P, M, S>> {
    let url = this.baseUrl + String(path).replace(/\{(\w+)\}/g, (_, name: string) =>
      encodeURIComponent(request.params?.[name] ?? ""));
    if (request.query) url += "?" + new URLSearchParams(request.query).toString();
    const headers: Record<string, string> = {};
    if (this.token) headers["Authorization"] = `Bearer ${this.token}`;
    if (request.body !== undefined) headers["Content-Type"] = "application/json";
    const response = await fetch(url, {
      method: method.toUpperCase(), headers,
      ...(request.body === undefined ? {} : { body: JSON.stringify(request.body) }),
    });
    const text = await response.text();
    const body: unknown = text ? JSON.parse(text) : undefined;
    if (!(handled as readonly number[]).includes(response.status)) {
      throw new UnexpectedAnswer(response.status, body);
    }
    return { status: response.status, body } as Answer<P, M, S>;
  }

  /** Logs in; later calls carry the access token. */
  async logIn(email: string, password: string): Promise<void> {
    const answer = await this.send("/auth/login", "post", { body: { email, password } }, [200, 401, 429]);
    if (answer.status !== 200) throw new UnexpectedAnswer(answer.status, answer.body.detail);
    this.token = answer.body.access_token;
  }
}

type Lesson = components["schemas"]["LessonPublic"];

/** A teacher's lesson from booking to completion: log in, schedule, start, complete. */
export async function teachOneLesson(api: Api, teacher: { email: string; password: string },
                                     studentId: string, startsAt: Date): Promise<Lesson> {
  await api.logIn(teacher.email, teacher.password);
  const booked = await api.send("/api/v1/lessons", "post", {
    body: { student_id: studentId, subject: "Mathematics", title: "Fractions",
            starts_at: startsAt.toISOString(), duration_minutes: 60, lesson_type: "regular" },
  }, [201, 403, 409, 422]);
  if (booked.status === 409) {
    const clashes = (booked.body.errors ?? []).map((error) => error.msg).join("; ");
    throw new Error(`the time is taken: ${clashes}`);
  }
  if (booked.status !== 201) throw new UnexpectedAnswer(booked.status, booked.body.detail);
  if (!("id" in booked.body)) throw new Error("a single lesson was asked for, not a series");
  const lessonId = booked.body.id;

  const started = await api.send("/api/v1/lessons/{lesson_id}/start", "post",
                                 { params: { lesson_id: lessonId } }, [200, 404, 409]);
  if (started.status !== 200) throw new UnexpectedAnswer(started.status, started.body.detail);

  const completed = await api.send("/api/v1/lessons/{lesson_id}/complete", "post", {
    params: { lesson_id: lessonId }, body: { score: 90, attended: true, notes: "Well done" },
  }, [200, 404, 409, 422]);
  switch (completed.status) {
    case 200:
      return completed.body;
    case 409:
      throw new Error(`the lesson is not in progress: ${completed.body.detail}`);
    case 422:
      throw new Error(completed.body.errors.map((error) => error.loc.join(".")).join(", "));
    default:
      throw new UnexpectedAnswer(completed.status, completed.body.detail);
  }
}
