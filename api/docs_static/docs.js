// /docs: Swagger UI on this API's own OpenAPI document. A file, not an inline script, so the
// page runs under the API's Content-Security-Policy (script-src 'self').
"use strict";
window.ui = SwaggerUIBundle({
  url: document.body.dataset.openapi,
  dom_id: "#swagger-ui",
  deepLinking: true,
  validatorUrl: null,
  presets: [SwaggerUIBundle.presets.apis],
  layout: "BaseLayout",
  onComplete: () => { document.body.dataset.state = "ready"; },
});
