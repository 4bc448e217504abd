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

  // --- The virtual step tree ---------------------------------------------------------------
  // #tree-viewport scrolls over a spacer as tall as all the tree's rows; #tree-window holds the
  // rows the server sent for one stretch of it (data-from, data-count) and sits at its place.
  // Scrolling near either end of the window fetches the window around what is on screen.
  var WINDOW_MARGIN = 30;
  var windowLoading = false;
  var scrollQueued = false;

  function treeParts() {
    var tree = document.getElementById("step-tree");
    var viewport = document.getElementById("tree-viewport");
    var win = document.getElementById("tree-window");
    if (!tree || !viewport || !win) return null;
    return {
      tree: tree, viewport: viewport, win: win,
      px: Number(tree.dataset.rowPx), total: Number(tree.dataset.total),
      size: Number(tree.dataset.window), from: Number(win.dataset.from),
      count: Number(win.dataset.count)
    };
  }

  function loadWindow(p, from) {
    if (windowLoading) return;
    windowLoading = true;
    from = Math.max(0, Math.min(from, p.total - p.size));
    var url = baseUrl() + "?tree_key=" + encodeURIComponent(p.tree.dataset.key) +
      "&tree_from=" + from;
    htmx.ajax("GET", url, { target: "#tree-window", swap: "outerHTML" }).then(function () {
      windowLoading = false;
      markCurrent();
      ensureWindow();
    }, function () { windowLoading = false; });
  }

  function ensureWindow() {
    var p = treeParts();
    if (!p) return;
    var first = Math.floor(p.viewport.scrollTop / p.px);
    var visible = Math.ceil(p.viewport.clientHeight / p.px);
    var nearTop = p.from > 0 && first < p.from + WINDOW_MARGIN;
    var nearEnd = p.from + p.count < p.total && first + visible > p.from + p.count - WINDOW_MARGIN;
    if (nearTop || nearEnd) loadWindow(p, first - Math.floor((p.size - visible) / 2));
  }

  document.addEventListener("scroll", function (ev) {
    if (!ev.target || ev.target.id !== "tree-viewport" || scrollQueued) return;
    scrollQueued = true;
    window.requestAnimationFrame(function () {
      scrollQueued = false;
      ensureWindow();
    });
  }, true);

  function markCurrent() {
    var detail = document.getElementById("step-detail");
    var tree = document.getElementById("step-tree");
    if (!detail || !tree || !detail.dataset.index) return;
    var index = Number(detail.dataset.index);
    var current = tree.querySelectorAll("tr.current");
    for (var i = 0; i < current.length; i++) current[i].classList.remove("current");
    var row = document.getElementById("row-" + index);
    if (row) {
      row.classList.add("current");
      return;
    }
    var groups = tree.querySelectorAll("tr.tree-group");
    for (var j = 0; j < groups.length; j++) {
      if (Number(groups[j].dataset.first) <= index && index <= Number(groups[j].dataset.last)) {
        groups[j].classList.add("current");
      }
    }
  }

  function syncSelection() {
    var detail = document.getElementById("step-detail");
    var p = treeParts();
    if (!detail || !p || !detail.dataset.index) return;
    if (p.tree.dataset.key !== detail.dataset.treeKey) {
      // The step is in a stretch this tree shows collapsed (or leaves the one it shows open):
      // bring in the tree with the step's own stretch open.
      htmx.ajax("GET", baseUrl() + "?step=" + encodeURIComponent(detail.dataset.span),
        { target: "#step-tree", swap: "outerHTML" });
      return;
    }
    var top = Number(detail.dataset.treeRow) * p.px;
    var view = p.viewport;
    if (top < view.scrollTop) view.scrollTop = top;
    else if (top + p.px > view.scrollTop + view.clientHeight) {
      view.scrollTop = top + p.px - view.clientHeight;
    }
    markCurrent();
    ensureWindow();
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

  document.addEventListener("htmx:afterSettle", function (ev) {
    var target = ev.detail && ev.detail.target;
    // A window of the tree swapped in while scrolling must not scroll back to the current step.
    if (target && target.id === "tree-window") return;
    renderCharts();
    syncSelection();
  });

  document.addEventListener("DOMContentLoaded", function () {
    renderCharts();
    syncSelection();
  });
})();
