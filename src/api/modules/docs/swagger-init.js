// Starts Swagger UI on the local OpenAPI documents (control API and broker, chosen in the top bar); validatorUrl null keeps it
// from calling validator.swagger.io. Opened from a dashboard session, the page carries the session's CSRF token in a meta tag
// (the cookie is HttpOnly): the interceptor sends it with every change to this origin, so "Try it out" is not refused 403.
const csrf = document.querySelector('meta[name="csrf-token"]')?.content ?? "";
const READS = ["GET", "HEAD", "OPTIONS"];

window.ui = SwaggerUIBundle({
  urls: [
    { url: "/swagger/json", name: "Control API" },
    { url: "/api/v1/docs/broker.json", name: "Broker (Ollama and OpenAI API)" },
  ],
  "urls.primaryName": "Control API",
  dom_id: "#swagger-ui",
  validatorUrl: null,
  deepLinking: true,
  tryItOutEnabled: false,
  persistAuthorization: false,
  requestInterceptor: (req) => {
    const sameOrigin = new URL(req.url, location.href).origin === location.origin;
    if (csrf && sameOrigin && !READS.includes((req.method ?? "GET").toUpperCase())) req.headers["X-CSRF-Token"] = csrf;
    return req;
  },
  presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],
  plugins: [SwaggerUIBundle.plugins.DownloadUrl],
  layout: "StandaloneLayout",
});
