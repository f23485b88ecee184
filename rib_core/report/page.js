// The results page's only script (rib_core/report/html.py): sorting and filtering. Every number is in the HTML
// without it. ASCII only; the page's Content-Security-Policy allows this script by its hash.
(function () {
  "use strict";

  // The first number in a cell ("+1.2 [-0.3,+2.1]" -> 1.2, "(62.3)" -> 62.3); NaN for "-" and text.
  function numberIn(text) {
    var match = /[-+]?\d+(?:\.\d+)?(?:e[-+]?\d+)?/i.exec(text.replace(/\u2212/g, "-"));
    return match ? parseFloat(match[0]) : NaN;
  }

  function sortBy(table, column, th) {
    var numeric = th.getAttribute("data-sort") === "number";
    var current = th.getAttribute("aria-sort");
    // Numbers: highest first on the first click; text: A to Z. A second click reverses.
    var descending = current ? current === "ascending" : numeric;
    var body = table.tBodies[0];
    var rows = Array.prototype.slice.call(body.rows);
    var keyed = rows.map(function (row, index) {
      var text = row.cells[column] ? row.cells[column].textContent.trim() : "";
      return { row: row, index: index, text: text, value: numeric ? numberIn(text) : NaN };
    });
    keyed.sort(function (a, b) {
      var order;
      if (numeric) {
        var aMissing = isNaN(a.value), bMissing = isNaN(b.value);
        if (aMissing || bMissing) {
          order = aMissing === bMissing ? 0 : (aMissing ? 1 : -1);  // no value: always last
          return order || a.index - b.index;
        }
        order = a.value - b.value;
      } else {
        order = a.text.localeCompare(b.text);
      }
      if (descending) order = -order;
      return order || a.index - b.index;
    });
    keyed.forEach(function (k) { body.appendChild(k.row); });
    Array.prototype.forEach.call(th.parentNode.cells, function (cell) { cell.removeAttribute("aria-sort"); });
    th.setAttribute("aria-sort", descending ? "descending" : "ascending");
  }

  Array.prototype.forEach.call(document.querySelectorAll("table.sortable"), function (table) {
    if (!table.tHead || !table.tBodies.length) return;
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (th, column) {
      var button = document.createElement("button");
      button.type = "button";
      button.className = "sort";
      button.title = "sort by this column";
      while (th.firstChild) button.appendChild(th.firstChild);
      th.appendChild(button);
      button.addEventListener("click", function () { sortBy(table, column, th); });
    });
  });

  // One filter per report: rows of its tables and its matrices whose model or strategy contains the text.
  Array.prototype.forEach.call(document.querySelectorAll("section.report"), function (section, n) {
    var targets = section.querySelectorAll("tr[data-model], div.matrix-block[data-model]");
    var first = section.querySelector("table.summary, div.matrix-block");
    if (!targets.length || !first) return;
    var box = document.createElement("div");
    box.className = "filter";
    var label = document.createElement("label");
    var input = document.createElement("input");
    input.type = "search";
    input.id = "filter-" + (n + 1);
    input.placeholder = "model or strategy";
    label.htmlFor = input.id;
    label.textContent = "Show only: ";
    box.appendChild(label);
    box.appendChild(input);
    var anchor = first.closest(".scroll") || first;
    anchor.parentNode.insertBefore(box, anchor);
    input.addEventListener("input", function () {
      var words = input.value.toLowerCase().split(/\s+/).filter(Boolean);
      Array.prototype.forEach.call(targets, function (el) {
        var text = (el.getAttribute("data-model") + " " + el.getAttribute("data-strategy")).toLowerCase();
        el.hidden = !words.every(function (w) { return text.indexOf(w) >= 0; });
      });
    });
  });

  // Print everything, folded parts included.
  window.addEventListener("beforeprint", function () {
    Array.prototype.forEach.call(document.querySelectorAll("details"), function (d) { d.open = true; });
  });
})();
