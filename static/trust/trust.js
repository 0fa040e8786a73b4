// The trust site's progressive enhancement (no dependency; CSP: a file, no inline
// script). 1. Instants rendered in UTC are shown in the reader's own zone, named.
// 2. On the portal's new-ticket form, suggestions follow the summary as it is
// typed and the product chosen; without JavaScript the "Check for answers" button
// does the same.
(function () {
  "use strict";
  function localTimes(root) {
    var format = new Intl.DateTimeFormat(undefined, {
      weekday: "short", day: "numeric", month: "short", year: "numeric",
      hour: "2-digit", minute: "2-digit", timeZoneName: "short",
    });
    root.querySelectorAll("time[data-local-time]").forEach(function (el) {
      var at = new Date(el.getAttribute("datetime"));
      if (!isNaN(at)) { el.title = el.textContent; el.textContent = format.format(at); }
    });
  }
  function suggestions() {
    var panel = document.getElementById("deflection");
    var summary = document.getElementById("id_summary");
    if (!panel || !summary) return;
    var token = document.querySelector("input[name=deflection_token]");
    // The product chosen narrows the known issues to its components.
    var product = document.getElementById("id_product");
    var timer = null;
    function query() {
      return "?summary=" + encodeURIComponent(summary.value) +
        "&token=" + encodeURIComponent(token.value) +
        (product ? "&product=" + encodeURIComponent(product.value) : "");
    }
    var last = query();
    function refresh() {
      clearTimeout(timer);
      timer = setTimeout(function () {
        var asked = query();
        if (asked === last) return;
        last = asked;
        fetch(panel.dataset.suggestionsUrl + asked,
              { credentials: "same-origin", headers: { "X-Requested-With": "fetch" } })
          .then(function (r) { return r.ok ? r.text() : Promise.reject(r.status); })
          .then(function (html) {
            if (asked !== last) return; // a newer answer is on its way
            panel.querySelector(".suggestions").outerHTML = html;
            localTimes(panel);
          })
          .catch(function () { /* keep what is shown; the form still works */ });
      }, 250);
    }
    summary.addEventListener("input", refresh);
    if (product) product.addEventListener("change", refresh);
    var check = document.getElementById("check-answers");
    if (check) check.hidden = true;
  }
  document.addEventListener("DOMContentLoaded", function () {
    localTimes(document);
    suggestions();
  });
})();
