/* The replay page: charts, step-by-step keys, play, and keeping the tree in step with the detail.
 *
 * Everything that changes on the page comes from the server as HTML regions swapped by htmx
 * (#step-detail, #step-tree, #invocation-summary). This file only wires keys and charts to those
 * regions: chart data arrives through json_script elements inside #step-tree, already escaped for
 * plotly's HTML-like labels. No inline script anywhere: the page's CSP forbids it.
 */
(function () {
  "use strict";

  var PLAY_INTERVAL_MS = 900;
  var playing = null;
  var renderedData = null;

  function baseUrl() {
    var replay = document.querySelector(".replay");
    return replay ? replay.getAttribute("data-base-url") : window.location.pathname;
  }

  function stepUrl(span) {
    return baseUrl() + "?step=" + encodeURIComponent(span);
  }

  function openStep(span) {
    var url = stepUrl(span);
    htmx.ajax("GET", url, { target: "#step-detail", swap: "outerHTML" }).then(function () {
      history.pushState({ htmx: true }, "", url);
    });
  }

  function readJson(id) {
    var el = document.getElementById(id);
    return el ? JSON.parse(el.textContent) : null;
  }

  function renderCharts() {
    var dataEl = document.getElementById("timeline-data");
    if (!dataEl || dataEl === renderedData || !window.Plotly) return;
    renderedData = dataEl;
    var config = { displaylogo: false, responsive: true, modeBarButtonsToRemove: ["select2d", "lasso2d"] };
    [["timeline-chart", "timeline-data"], ["usage-chart", "usage-data"]].forEach(function (pair) {
      var el = document.getElementById(pair[0]);
      var fig = readJson(pair[1]);
      if (!el || !fig) return;
      Plotly.react(el, fig.data, fig.layout, config).then(function () {
        if (el.dataset.wired) return;
        el.dataset.wired = "1";
        el.on("plotly_click", function (ev) {
          var point = ev.points && ev.points[0];
          if (point && point.customdata != null) openStep(String(point.customdata));
        });
      });
    });
  }

  function syncSelection() {
    var detail = document.getElementById("step-detail");
    var tree = document.getElementById("step-tree");
    if (!detail || !tree || !detail.dataset.index) return;
    if (tree.dataset.page !== detail.dataset.treePage) {
      // The step lives on another page of the tree: bring that page in, then mark it.
      htmx.ajax("GET", baseUrl() + "?tree_page=" + encodeURIComponent(detail.dataset.treePage),
        { target: "#step-tree", swap: "outerHTML" });
      return;
    }
    var current = tree.querySelectorAll("tr.current");
    for (var i = 0; i < current.length; i++) current[i].classList.remove("current");
    var row = document.getElementById("row-" + detail.dataset.index);
    if (row) {
      row.classList.add("current");
      row.scrollIntoView({ block: "nearest" });
    }
    var play = document.getElementById("play");
    if (play) play.textContent = playing ? "⏸ Pause" : "▶ Play";
  }

  function click(id) {
    var el = document.getElementById(id);
    if (el && el.tagName === "A") {
      el.click();
      return true;
    }
    return false;
  }

  function stop() {
    if (playing) clearInterval(playing);
    playing = null;
    syncSelection();
  }

  function togglePlay() {
    if (playing) return stop();
    if (!document.getElementById("step-detail")) return;
    playing = setInterval(function () {
      var detail = document.getElementById("step-detail");
      if (detail && detail.classList.contains("htmx-request")) return;
      if (!click("nav-next")) stop();
    }, PLAY_INTERVAL_MS);
    syncSelection();
  }

  var KEYS = {
    j: "nav-next", ArrowDown: "nav-next", ArrowRight: "nav-next",
    k: "nav-prev", ArrowUp: "nav-prev", ArrowLeft: "nav-prev",
    Home: "nav-first", g: "nav-first", End: "nav-last", G: "nav-last",
    r: "jump-root"
  };

  document.addEventListener("keydown", function (ev) {
    if (ev.altKey || ev.ctrlKey || ev.metaKey) return;
    var t = ev.target;
    if (t && (t.isContentEditable || /^(INPUT|TEXTAREA|SELECT|BUTTON)$/.test(t.tagName))) return;
    if (!document.getElementById("step-detail")) return;
    if (ev.key === "p" || ev.key === " ") {
      ev.preventDefault();
      togglePlay();
      return;
    }
    var id = KEYS[ev.key];
    if (!id) return;
    ev.preventDefault();
    if (ev.key !== "j" && ev.key !== "ArrowDown" && ev.key !== "ArrowRight") stop();
    click(id);
  });

  document.addEventListener("click", function (ev) {
    var el = ev.target;
    if (el && el.id === "play") togglePlay();
    else if (playing && el && el.closest && el.closest("a") && !el.closest("#nav-next")) stop();
  });

  document.addEventListener("htmx:afterSettle", function () {
    renderCharts();
    syncSelection();
  });

  document.addEventListener("DOMContentLoaded", function () {
    renderCharts();
    syncSelection();
  });
})();
