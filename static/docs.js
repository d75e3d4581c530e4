// The interactive API description at /docs, from this server's /openapi.json.
// validatorUrl: null keeps Swagger UI from calling its online validator (offline class).
window.ui = window.SwaggerUIBundle({
  url: "/openapi.json",
  dom_id: "#swagger-ui",
  validatorUrl: null,
  deepLinking: true,
});
