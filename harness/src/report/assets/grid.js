// trellis tab grid: rows are tests, columns are builds (newest first). Only the rows in
// view are in the DOM, so a 5,000 x 150 grid scrolls as fast as a small one.
(function () {
  "use strict";
  var ROW = 18;
  var data = JSON.parse(document.getElementById("grid-data").textContent);
  var grid = document.getElementById("grid");
  var body = document.getElementById("grid-body");
  var head = document.getElementById("grid-head");
  var filter = document.getElementById("filter");
  var filterError = document.getElementById("filter-error");
  var sort = document.getElementById("sort");
  var count = document.getElementById("row-count");
  var detail = document.getElementById("detail");
  var LABEL = { P: "PASS", S: "PASS_WITH_SKIPS", F: "FAIL", K: "FLAKY", O: "OTHER", N: "" };
  var visible = data.rows.map(function (_, i) { return i; });

  function text(tag, cls, value) {
    var el = document.createElement(tag);
    if (cls) { el.className = cls; }
    if (value !== undefined) { el.textContent = value; }
    return el;
  }

  function drawHead() {
    var corner = text("div", "name", data.rows.length + " tests x " + data.columns.length + " builds");
    if (data.prefix) { corner.appendChild(text("div", "muted", data.prefix + "…")); }
    head.appendChild(corner);
    data.columns.forEach(function (c) {
      var col = text("div", "col");
      col.title = "build " + c.build + (c.commit ? "\ncommit " + c.commit : "") + "\n" + c.date;
      col.appendChild(text("div", "", c.build.slice(-6)));
      col.appendChild(text("div", "", c.date.slice(5, 10)));
      col.appendChild(text("div", "", (c.commit || "").slice(0, 7)));
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
      var el = text("div", row.alert ? "row alert" : "row");
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
          var m = data.messages[r + "," + c];
          a.title = LABEL[code] + (m ? ": " + m.slice(0, 300) : "");
          col.appendChild(a);
        }
        el.appendChild(col);
      }
      body.appendChild(el);
    }
    body.style.height = (visible.length * ROW) + "px";
    body.style.width = (420 + 44 * data.columns.length) + "px";
  }

  function apply() {
    var pattern = null;
    filterError.textContent = "";
    if (filter.value) {
      try { pattern = new RegExp(filter.value, "i"); }
      catch (e) { filterError.textContent = "not a valid regular expression"; }
    }
    visible = [];
    data.rows.forEach(function (row, i) {
      if (!pattern || pattern.test(row.name)) { visible.push(i); }
    });
    var key = sort.value;
    visible.sort(function (a, b) {
      var ra = data.rows[a], rb = data.rows[b];
      if (key === "failures" && rb.fails !== ra.fails) { return rb.fails - ra.fails; }
      if (key === "flakiness" && rb.flake !== ra.flake) { return rb.flake - ra.flake; }
      if (key === "alerts" && rb.alert !== ra.alert) { return rb.alert ? 1 : -1; }
      return ra.name < rb.name ? -1 : ra.name > rb.name ? 1 : 0;
    });
    count.textContent = visible.length + " of " + data.rows.length + " rows";
    drawRows();
  }

  grid.addEventListener("scroll", function () { window.requestAnimationFrame(drawRows); });
  filter.addEventListener("input", apply);
  sort.addEventListener("change", apply);
  body.addEventListener("mouseover", function (ev) {
    var t = ev.target;
    if (!t.dataset || t.dataset.r === undefined) { return; }
    var m = data.messages[t.dataset.r + "," + t.dataset.c];
    detail.textContent = data.rows[t.dataset.r].name + " @ build " + data.columns[t.dataset.c].build +
      (m ? "\n" + m : "");
  });
  drawHead();
  apply();
  // The browser check and the benchmark read this: time from navigation to first draw.
  document.body.dataset.drawnMs = String(Math.round(performance.now()));
})();
