// Form-post delivery: submits the page's token form at once. The page's CSP allows only this
// script; without JavaScript the page shows a "Continue" button instead.
(function () {
  "use strict";
  var form = document.getElementById("autopost");
  if (form) {
    // Call the prototype's submit: a field named "submit" would shadow form.submit.
    HTMLFormElement.prototype.submit.call(form);
  }
})();
