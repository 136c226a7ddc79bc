// trellis tab grid: rows are tests, columns are builds (newest first). Only the rows in
// view are in the DOM, so a 5,000 x 150 grid scrolls as fast as a small one. The view
// (filters, sort) lives in the URL's #fragment, so a link shares it.
(function () {
  "use strict";
  var ROW = 18, COL = 44;
  var data = JSON.parse(document.getElementById("grid-data").textContent);
  // Rows arrive as compact arrays (see grid_page.rs): [name, cells run-length coded,
  // fails, flake, flags, message ids of the F and K cells]. Expanded once.
  data.rows = data.rows.map(function (a) {
    var cells = a[1].replace(/(\d*)([PSFKON])/g, function (_, n, code) {
      return new Array((n ? parseInt(n, 10) : 1) + 1).join(code);
    });
    var msgs = {}, k = 0;
    for (var c = 0; c < cells.length; c++) {
      var ch = cells.charAt(c);
      if (ch === "F" || ch === "K") {
        if (a[5][k]) { msgs[c] = a[5][k] - 1; }
        k++;
      }
    }
    return { name: (a[4] & 4 ? data.prefix : "") + a[0], cells: cells, fails: a[2], flake: a[3],
             alert: !!(a[4] & 1), build: !!(a[4] & 2), msgs: msgs };
  });
  function message(r, c) {
    var i = data.rows[r].msgs[c];
    return i === undefined ? "" : data.texts[i];
  }
  var grid = document.getElementById("grid");
  var body = document.getElementById("grid-body");
  var head = document.getElementById("grid-head");
  var include = document.getElementById("include");
  var exclude = document.getElementById("exclude");
  var filterError = document.getElementById("filter-error");
  var sort = document.getElementById("sort");
  var onlyFailing = document.getElementById("only-failing");
  var hidePassing = document.getElementById("hide-passing");
  var hideSkipped = document.getElementById("hide-skipped");
  var count = document.getElementById("row-count");
  var detail = document.getElementById("detail");
  var LABEL = { P: "PASS", S: "PASS_WITH_SKIPS", F: "FAIL", K: "FLAKY", O: "OTHER", N: "" };
  var visible = data.rows.map(function (_, i) { return i; });
  var nameWidth = 420;

  function text(tag, cls, value) {
    var el = document.createElement(tag);
    if (cls) { el.className = cls; }
    if (value !== undefined) { el.textContent = value; }
    return el;
  }

  function setNameWidth(px) {
    nameWidth = Math.max(160, Math.min(1200, Math.round(px)));
    grid.style.setProperty("--name-width", nameWidth + "px");
    body.style.width = (nameWidth + COL * data.columns.length) + "px";
  }

  function drawHead() {
    var corner = text("div", "name", data.rows.length + " tests x " + data.columns.length + " builds");
    if (data.prefix) { corner.appendChild(text("div", "muted", data.prefix + "…")); }
    // Drag to widen or narrow the name column.
    var handle = text("div", "resize");
    handle.title = "drag to resize the name column";
    handle.addEventListener("mousedown", function (ev) {
      var startX = ev.clientX, startW = nameWidth;
      function move(e) { setNameWidth(startW + e.clientX - startX); }
      function up() { document.removeEventListener("mousemove", move); document.removeEventListener("mouseup", up); }
      document.addEventListener("mousemove", move);
      document.addEventListener("mouseup", up);
      ev.preventDefault();
    });
    corner.appendChild(handle);
    head.appendChild(corner);
    data.columns.forEach(function (c) {
      var col = text("div", "col");
      col.title = "build " + c.build + (c.commit ? "\ncommit " + c.commit : "") + "\n" + c.date + " UTC";
      col.appendChild(text("div", "", c.build.slice(-6)));
      col.appendChild(text("div", "", c.date.slice(5, 10)));
      col.appendChild(text("div", "", c.date.slice(11, 16)));
      col.appendChild(text("div", "commit", (c.commit || "").slice(0, 6)));
      head.appendChild(col);
    });
  }

  function cellText(r, c, code) {
    if (code === "F") { return "F"; }
    if (code === "S") { return "S"; }
    if (code === "K") {
      var n = data.attempts[r + "," + c];
      return n ? (n - 1) + "/" + n : "K";
    }
    return "";
  }

  function drawRows() {
    var top = Math.max(0, grid.scrollTop - head.offsetHeight);
    var first = Math.max(0, Math.floor(top / ROW) - 10);
    var last = Math.min(visible.length, first + Math.ceil(grid.clientHeight / ROW) + 20);
    body.textContent = "";
    for (var i = first; i < last; i++) {
      var r = visible[i];
      var row = data.rows[r];
      var el = text("div", "row" + (row.alert ? " alert" : "") + (row.build ? " pinned" : ""));
      el.style.top = (i * ROW) + "px";
      var shown = row.name.indexOf(data.prefix) === 0 ? row.name.slice(data.prefix.length) : row.name;
      var name = text("div", "name", shown);
      name.title = row.name;
      el.appendChild(name);
      for (var c = 0; c < row.cells.length; c++) {
        var code = row.cells.charAt(c);
        var col = text("div", "col");
        if (code !== "N") {
          var a = text("a", "c " + code, cellText(r, c, code));
          a.href = data.columns[c].href;
          a.dataset.r = r;
          a.dataset.c = c;
          var m = message(r, c);
          a.title = LABEL[code] + (m ? ": " + m.slice(0, 300) : "");
          col.appendChild(a);
        }
        el.appendChild(col);
      }
      body.appendChild(el);
    }
    body.style.height = (visible.length * ROW) + "px";
  }

  function regex(input) {
    if (!input.value) { return null; }
    try { return new RegExp(input.value, "i"); }
    catch (e) { filterError.textContent = input.id + ": not a valid regular expression"; return null; }
  }

  // The view in the #fragment: include, exclude, sort, failing, passing, skipped.
  function saveView() {
    var parts = [];
    if (include.value) { parts.push("include=" + encodeURIComponent(include.value)); }
    if (exclude.value) { parts.push("exclude=" + encodeURIComponent(exclude.value)); }
    if (sort.value !== "name") { parts.push("sort=" + sort.value); }
    if (onlyFailing.checked) { parts.push("failing=1"); }
    if (hidePassing.checked) { parts.push("hide-passing=1"); }
    if (hideSkipped.checked) { parts.push("hide-skipped=1"); }
    var hash = parts.length ? "#" + parts.join("&") : "";
    if (hash !== window.location.hash) {
      window.history.replaceState(null, "", window.location.pathname + window.location.search + hash);
    }
  }

  function loadView() {
    var view = {};
    window.location.hash.replace(/^#/, "").split("&").forEach(function (p) {
      var eq = p.indexOf("=");
      if (eq > 0) {
        try { view[p.slice(0, eq)] = decodeURIComponent(p.slice(eq + 1)); } catch (e) { /* ignore a bad escape */ }
      }
    });
    include.value = view.include || "";
    exclude.value = view.exclude || "";
    if (["name", "failures", "flakiness", "alerts"].indexOf(view.sort) >= 0) { sort.value = view.sort; }
    onlyFailing.checked = view.failing === "1";
    hidePassing.checked = view["hide-passing"] === "1";
    hideSkipped.checked = view["hide-skipped"] === "1";
  }

  function apply() {
    filterError.textContent = "";
    var inc = regex(include), exc = regex(exclude);
    var pinned = [];
    visible = [];
    data.rows.forEach(function (row, i) {
      // Overall (the build itself) stays first, whatever the view.
      if (row.build) { pinned.push(i); return; }
      if (inc && !inc.test(row.name)) { return; }
      if (exc && exc.test(row.name)) { return; }
      if (onlyFailing.checked && row.cells.indexOf("F") < 0) { return; }
      if (hidePassing.checked && /^[PSN]*$/.test(row.cells)) { return; }
      if (hideSkipped.checked && /^[SN]*$/.test(row.cells)) { return; }
      visible.push(i);
    });
    var key = sort.value;
    visible.sort(function (a, b) {
      var ra = data.rows[a], rb = data.rows[b];
      if (key === "failures" && rb.fails !== ra.fails) { return rb.fails - ra.fails; }
      if (key === "flakiness" && rb.flake !== ra.flake) { return rb.flake - ra.flake; }
      if (key === "alerts" && rb.alert !== ra.alert) { return rb.alert ? 1 : -1; }
      return ra.name < rb.name ? -1 : ra.name > rb.name ? 1 : 0;
    });
    visible = pinned.concat(visible);
    count.textContent = (visible.length - pinned.length) + " of " + (data.rows.length - pinned.length) + " tests";
    saveView();
    drawRows();
  }

  grid.addEventListener("scroll", function () { window.requestAnimationFrame(drawRows); });
  [include, exclude].forEach(function (el) { el.addEventListener("input", apply); });
  [sort, onlyFailing, hidePassing, hideSkipped].forEach(function (el) { el.addEventListener("change", apply); });
  window.addEventListener("hashchange", function () { loadView(); apply(); });
  body.addEventListener("mouseover", function (ev) {
    var t = ev.target;
    if (!t.dataset || t.dataset.r === undefined) { return; }
    var m = message(t.dataset.r, t.dataset.c);
    var col = data.columns[t.dataset.c];
    detail.textContent = data.rows[t.dataset.r].name + " @ build " + col.build + " (" + col.date + " UTC" +
      (col.commit ? ", commit " + col.commit : "") + ")" + (m ? "\n" + m : "");
    detail.className = "msg shown";
  });
  drawHead();
  setNameWidth(nameWidth);
  loadView();
  apply();
  // The browser check and the benchmark read this: time from navigation to first draw.
  document.body.dataset.drawnMs = String(Math.round(performance.now()));
})();
