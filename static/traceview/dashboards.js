// Dashboards: draw the figures the server put in #dashboard-figures, and open the invocation
// list behind a bar or point when it is clicked (its URL is the point's customdata).
(function () {
  "use strict";

  function safeUrl(url) {
    // Only this site's own pages: a figure never sends the browser elsewhere.
    return typeof url === "string" && url.charAt(0) === "/" && url.charAt(1) !== "/" ? url : null;
  }

  function draw() {
    var source = document.getElementById("dashboard-figures");
    if (!source || !window.Plotly) return;
    var figures = JSON.parse(source.textContent);
    document.querySelectorAll("[data-figure]").forEach(function (el) {
      var fig = figures[el.dataset.figure];
      if (!fig) return;
      if (!fig.data.length || fig.data.every(function (t) { return !(t.x || []).length; })) {
        el.textContent = "No data in this range.";
        el.classList.add("muted");
        el.dataset.rendered = "empty";
        return;
      }
      window.Plotly.newPlot(el, fig.data, fig.layout, { displaylogo: false, responsive: true })
        .then(function () {
          // Plotly adds .on to the element only once the plot exists.
          el.on("plotly_click", function (event) {
            var point = event.points && event.points[0];
            var url = point && safeUrl(point.customdata);
            if (url) window.location.assign(url);
          });
          el.dataset.rendered = "plot";
        });
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", draw);
  } else {
    draw();
  }
})();
