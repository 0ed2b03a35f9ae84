// Starts Swagger UI at /api/docs with the settings the page carries as JSON
// (an inline init script would be refused by the Content-Security-Policy).
(function () {
  "use strict";
  var settings = JSON.parse(document.getElementById("swagger-ui-config").textContent);
  var config = {
    dom_id: "#swagger-ui-container",
    validatorUrl: null  // the default badge loads from validator.swagger.io, outside the CSP
  };
  Object.keys(settings).forEach(function (name) { config[name] = settings[name]; });
  window.ui = SwaggerUIBundle(config);
})();
