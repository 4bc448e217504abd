// The invocation list: the first page refreshes itself every 5 s (htmx), which would untick the
// rows picked for a comparison; while any row is ticked, the refresh waits.
(function () {
  "use strict";
  document.addEventListener("htmx:beforeRequest", function (event) {
    var elt = event.detail && event.detail.elt;
    if (elt && elt.id === "invocation-rows" && document.querySelector(".compare-pick:checked")) {
      event.preventDefault();
    }
  });
})();
