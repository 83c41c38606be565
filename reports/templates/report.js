/* sriovcheck report: filters, copy buttons, print. The page works without this script. */
(function () {
  "use strict";
  var root = document.documentElement;
  root.classList.remove("no-js");
  root.classList.add("js");

  var rows = Array.prototype.slice.call(document.querySelectorAll("details.result"));
  var sections = Array.prototype.slice.call(document.querySelectorAll("details.section"));
  var form = document.getElementById("filters");
  /* Passes and not-applicable skips start collapsed; a rule, host or search filter opens the
     sections holding its matches, and Reset closes them again. */
  var openedByFilter = [];

  function checkedValues(name) {
    var wanted = {};
    Array.prototype.forEach.call(form.querySelectorAll("input[name='" + name + "']"), function (box) {
      if (box.checked) { wanted[box.value] = true; }
    });
    return wanted;
  }

  function applyFilters() {
    var statuses = checkedValues("status");
    var severities = checkedValues("severity");
    var rule = form.elements.rule ? form.elements.rule.value : "";
    var host = form.elements.host ? form.elements.host.value : "";
    var query = form.elements.q ? form.elements.q.value.trim().toLowerCase() : "";
    var shown = 0;
    rows.forEach(function (row) {
      var visible = statuses[row.getAttribute("data-status")] === true &&
        severities[row.getAttribute("data-severity")] === true &&
        (!rule || row.getAttribute("data-rule") === rule) &&
        (!host || row.getAttribute("data-host") === host) &&
        (!query || row.textContent.toLowerCase().indexOf(query) !== -1);
      row.hidden = !visible;
      if (visible) { shown += 1; }
    });
    var narrowed = Boolean(rule || host || query);
    sections.forEach(function (section) {
      var matches = section.querySelector("details.result:not([hidden])") !== null;
      section.hidden = !matches;
      if (narrowed && matches && !section.open) {
        section.open = true;
        openedByFilter.push(section);
      } else if (!narrowed && openedByFilter.indexOf(section) !== -1) {
        section.open = false;
      }
    });
    if (!narrowed) { openedByFilter = []; }
    Array.prototype.forEach.call(document.querySelectorAll("section.results"), function (section) {
      var note = section.querySelector(".none-shown");
      if (note) { note.hidden = section.querySelector("details.result:not([hidden])") !== null; }
    });
    var output = form.querySelector("output.shown");
    if (output) {
      output.textContent = shown === rows.length ? rows.length + " results" : shown + " of " + rows.length + " results shown";
    }
  }

  if (form) {
    form.addEventListener("input", applyFilters);
    form.addEventListener("change", applyFilters);
    form.addEventListener("submit", function (event) { event.preventDefault(); });
    form.addEventListener("reset", function () { window.setTimeout(applyFilters, 0); });
    applyFilters();
  }

  function flash(button, text) {
    button.textContent = text;
    window.setTimeout(function () { button.textContent = "Copy"; }, 1600);
  }

  function copyBySelection(pre, button) {
    var range = document.createRange();
    range.selectNodeContents(pre);
    var selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
    var ok = false;
    try { ok = document.execCommand("copy"); } catch (e) { ok = false; }
    flash(button, ok ? "Copied" : "Selected: press Ctrl+C");
  }

  Array.prototype.forEach.call(document.querySelectorAll("button.copy"), function (button) {
    button.hidden = false;
    button.addEventListener("click", function () {
      var pre = button.parentNode.parentNode.querySelector("pre");
      if (!pre) { return; }
      var text = pre.textContent;
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(text).then(function () { flash(button, "Copied"); },
          function () { copyBySelection(pre, button); });
      } else {
        copyBySelection(pre, button);
      }
    });
  });

  /* Printing shows every detail of the results the filters leave visible. */
  var reopen = [];
  window.addEventListener("beforeprint", function () {
    reopen = rows.concat(sections).filter(function (row) { return !row.open; });
    reopen.forEach(function (row) { row.open = true; });
  });
  window.addEventListener("afterprint", function () {
    reopen.forEach(function (row) { row.open = false; });
    reopen = [];
  });
}());
