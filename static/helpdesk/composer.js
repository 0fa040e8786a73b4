/* The ticket page's canned-reply picker, enhanced: a search box filters the list,
   and choosing a reply fills the reply box and puts its "send and set status"
   button first, without reloading the page. Without JavaScript the picker is a
   GET form (?macro=<id>) that the server answers with the same filled text. */
(function () {
  "use strict";
  var picker = document.getElementById("macro-picker");
  if (!picker || !window.fetch) { return; }
  var select = document.getElementById("macro-choice");
  var search = document.getElementById("macro-search");
  var useButton = document.getElementById("macro-use");
  var note = document.getElementById("macro-note");
  var actions = document.getElementById("composer-actions");
  var body = document.querySelector("#reply-form textarea[name=body]");

  search.hidden = false;
  useButton.hidden = true;

  search.addEventListener("input", function () {
    var words = search.value.toLowerCase().split(/\s+/).filter(Boolean);
    var firstShown = null;
    Array.prototype.forEach.call(select.options, function (option) {
      if (!option.value) { return; }
      var text = option.getAttribute("data-search") || "";
      var shown = words.every(function (word) { return text.indexOf(word) !== -1; });
      option.hidden = !shown;
      if (shown && firstShown === null) { firstShown = option; }
    });
    select.size = words.length ? Math.min(6, select.options.length) : 0;
  });

  function putFirst(then) {
    var buttons = actions.querySelectorAll("button");
    Array.prototype.forEach.call(buttons, function (button) {
      button.classList.remove("default");
    });
    var chosen = Array.prototype.filter.call(buttons, function (button) {
      return (button.getAttribute("data-then") || "") === then;
    })[0] || buttons[0];
    chosen.classList.add("default");
    actions.insertBefore(chosen, actions.firstChild);
  }

  select.addEventListener("change", function () {
    if (!select.value) { return; }
    var url = picker.getAttribute("data-fill-url") + "?macro=" + encodeURIComponent(select.value);
    fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (response) {
        if (!response.ok) { throw new Error(response.status); }
        return response.json();
      })
      .then(function (filled) {
        body.value = filled.body;
        body.focus();
        putFirst(filled.then_status || "");
        note.textContent = filled.note || "";
        note.hidden = !filled.note;
        select.size = 0;
      })
      .catch(function () { picker.submit(); });  /* the server fills it instead */
  });
})();
