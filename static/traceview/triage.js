/* Triage keyboard shortcuts and selection, loaded as a static file (the CSP forbids inline
   script). Rows and buttons are found again on every key press because htmx swaps them. */
(function () {
  "use strict";

  function rows() { return Array.prototype.slice.call(document.querySelectorAll("tr[data-row]")); }

  function focusRow(next) {
    var all = rows();
    if (!all.length) { return; }
    var current = all.findIndex(function (r) { return r.classList.contains("focused"); });
    all.forEach(function (r) { r.classList.remove("focused"); });
    var i = current < 0 ? 0 : Math.max(0, Math.min(all.length - 1, current + next));
    all[i].classList.add("focused");
    all[i].scrollIntoView({ block: "nearest" });
  }

  function focused() { return document.querySelector("tr[data-row].focused"); }

  function typing(target) {
    return target && (target.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName));
  }

  document.addEventListener("keydown", function (event) {
    if (event.metaKey || event.ctrlKey || event.altKey || typing(event.target)) { return; }
    var key = event.key;
    var row = focused();
    var handled = true;
    if (key === "j" || key === "k") {
      focusRow(key === "j" ? 1 : -1);
    } else if (key === "x" && row) {
      var box = row.querySelector("input[type=checkbox]");
      if (box) { box.checked = !box.checked; }
    } else if (key === "Enter" && row && !event.target.closest("tr[data-row]") &&
               event.target !== document.body) {
      handled = false;
    } else if ((key === "o" || key === "Enter") && row) {
      var link = row.querySelector("a[data-open]");
      if (link) { window.location.assign(link.href); }
    } else if (key === "?") {
      var help = document.getElementById("shortcut-help");
      if (help) { help.hidden = !help.hidden; }
    } else {
      var button = document.querySelector('[data-key="' + key + '"]:not([disabled])');
      if (!button || button.id === "shortcut-help-toggle" || key.length !== 1) { return; }
      // With nothing ticked, a bulk action applies to the focused row.
      if (row && button.form && button.form.id === "bulk" &&
          !button.form.querySelector("input[name=ids]:checked")) {
        var own = row.querySelector("input[name=ids]");
        if (own) { own.checked = true; }
      }
      button.click();
    }
    if (handled) { event.preventDefault(); }
  });

  document.addEventListener("click", function (event) {
    if (event.target.id === "shortcut-help-toggle") {
      var help = document.getElementById("shortcut-help");
      if (help) { help.hidden = !help.hidden; }
    }
  });

  document.addEventListener("change", function (event) {
    if (event.target.id === "select-all") {
      document.querySelectorAll("input[name=ids]").forEach(function (box) {
        box.checked = event.target.checked;
      });
    }
  });

  // A swapped queue starts unselected.
  document.addEventListener("htmx:afterSwap", function (event) {
    if (event.target && event.target.id === "queue-rows") {
      var all = document.getElementById("select-all");
      if (all) { all.checked = false; }
    }
  });
})();
