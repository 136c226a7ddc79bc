// trellis list tables (flakiness, test pass rates): a text filter, a job filter and
// sorting by any column (click its header), the view kept in the URL's #fragment
// (q=, job=, sort=, desc=1) so a link shares it.
(function () {
  "use strict";
  var table = document.querySelector("table[data-table]");
  if (!table || !table.tBodies.length) { return; }
  var filter = document.getElementById("table-filter");
  var jobs = document.getElementById("table-job");
  var count = document.getElementById("table-count");
  var heads = table.tHead.rows[0].cells;
  var rows = Array.prototype.slice.call(table.tBodies[0].rows);
  var view = { q: "", job: "", sort: -1, desc: false };

  function load() {
    view = { q: "", job: "", sort: -1, desc: false };
    window.location.hash.replace(/^#/, "").split("&").forEach(function (p) {
      var eq = p.indexOf("=");
      if (eq <= 0) { return; }
      var v;
      try { v = decodeURIComponent(p.slice(eq + 1)); } catch (e) { return; }
      var k = p.slice(0, eq);
      if (k === "q") { view.q = v; }
      if (k === "job") { view.job = v; }
      if (k === "sort") { view.sort = parseInt(v, 10); }
      if (k === "desc") { view.desc = v === "1"; }
    });
    filter.value = view.q;
    if (jobs) { jobs.value = view.job; }
  }

  function save() {
    var parts = [];
    if (view.q) { parts.push("q=" + encodeURIComponent(view.q)); }
    if (view.job) { parts.push("job=" + encodeURIComponent(view.job)); }
    if (view.sort >= 0) { parts.push("sort=" + view.sort); if (view.desc) { parts.push("desc=1"); } }
    var hash = parts.length ? "#" + parts.join("&") : "";
    if (hash !== window.location.hash) {
      window.history.replaceState(null, "", window.location.pathname + window.location.search + hash);
    }
  }

  function key(row, i) {
    var cell = row.cells[i];
    if (!cell) { return ""; }
    var s = cell.getAttribute("data-sort");
    return s !== null ? parseFloat(s) : cell.textContent.toLowerCase();
  }

  function apply() {
    var q = view.q.toLowerCase(), shown = 0;
    if (view.sort >= 0 && view.sort < heads.length) {
      var i = view.sort, sign = view.desc ? -1 : 1;
      rows.sort(function (a, b) {
        var x = key(a, i), y = key(b, i);
        return x < y ? -sign : x > y ? sign : 0;
      });
    }
    var tbody = table.tBodies[0];
    rows.forEach(function (row) {
      var ok = (!q || row.textContent.toLowerCase().indexOf(q) >= 0) &&
        (!view.job || row.getAttribute("data-job") === view.job);
      row.style.display = ok ? "" : "none";
      if (ok) { shown++; }
      tbody.appendChild(row);
    });
    for (var h = 0; h < heads.length; h++) {
      heads[h].className = h === view.sort ? (view.desc ? "sorted desc" : "sorted") : "";
    }
    count.textContent = shown + " of " + rows.length + " rows";
    save();
  }

  filter.addEventListener("input", function () { view.q = filter.value; apply(); });
  if (jobs) { jobs.addEventListener("change", function () { view.job = jobs.value; apply(); }); }
  Array.prototype.forEach.call(heads, function (th, i) {
    th.title = "sort by this column (again: reverse)";
    th.addEventListener("click", function () {
      view.desc = view.sort === i ? !view.desc : false;
      view.sort = i;
      apply();
    });
  });
  window.addEventListener("hashchange", function () { load(); apply(); });
  load();
  apply();
})();
