// The trust site's progressive enhancement (no dependency; CSP: a file, no inline
// script). 1. Instants rendered in UTC are shown in the reader's own zone, named.
// 2. On the portal's new-ticket form, suggestions follow the summary as it is
// typed; without JavaScript the "Check for answers" button does the same.
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
    var timer = null, last = summary.value;
    summary.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(function () {
        if (summary.value === last) return;
        last = summary.value;
        var url = panel.dataset.suggestionsUrl + "?summary=" +
          encodeURIComponent(summary.value) + "&token=" + encodeURIComponent(token.value);
        fetch(url, { credentials: "same-origin", headers: { "X-Requested-With": "fetch" } })
          .then(function (r) { return r.ok ? r.text() : Promise.reject(r.status); })
          .then(function (html) {
            if (summary.value !== last) return; // a newer answer is on its way
            panel.querySelector(".suggestions").outerHTML = html;
            localTimes(panel);
          })
          .catch(function () { /* keep what is shown; the form still works */ });
      }, 250);
    });
    var check = document.getElementById("check-answers");
    if (check) check.hidden = true;
  }
  document.addEventListener("DOMContentLoaded", function () {
    localTimes(document);
    suggestions();
  });
})();
