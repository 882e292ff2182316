// Swagger UI at /swagger, loaded lazily after the listener is up (it costs start-up time and is rarely opened).
import { Elysia } from "elysia";

export const docsModule = () => new Elysia({ name: "docs" }).use(import("./openapi.ts"));
