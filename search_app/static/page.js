// Progressive enhancement of the reading pages: "Copy citation" beside each citation (cards, article pages),
// and a fade at the edge of a chip row that scrolls sideways on a phone where more chips are hidden. Without
// this file the citation is still there, in its "Citation" disclosure, to read and select. Served from
// /static (the CSP forbids inline script).
(function () {
  "use strict";
  var boxes = document.querySelectorAll(".cite[data-cite]");

  function say(status, message) {
    status.textContent = "";
    // A fresh text node each time, so that a second copy is announced too.
    window.setTimeout(function () { status.textContent = message; }, 50);
  }

  function selectText(node) {
    var range = document.createRange();
    range.selectNodeContents(node);
    var selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
  }

  function copy(node) {
    if (navigator.clipboard && window.isSecureContext) return navigator.clipboard.writeText(node.textContent);
    return new Promise(function (resolve, reject) {
      selectText(node);
      try {
        if (document.execCommand("copy")) { resolve(); return; }
      } catch (ignored) { /* refused: the text stays selected to copy by hand */ }
      reject(new Error("no clipboard"));
    });
  }

  Array.prototype.forEach.call(boxes, function (box) {
    var text = document.getElementById(box.getAttribute("data-cite"));
    if (!text) return;
    var details = box.querySelector("details");
    var label = box.querySelector("summary .visually-hidden");
    var button = document.createElement("button");
    var status = document.createElement("span");
    button.type = "button";
    button.className = "cite-copy";
    button.textContent = "Copy citation";
    // The visible words first, then which citation: "Copy citation: Amitriptyline, Common side effects".
    if (label) button.setAttribute("aria-label", "Copy citation" + label.textContent);
    status.className = "cite-status";
    status.setAttribute("role", "status");
    box.insertBefore(button, box.firstChild);
    box.appendChild(status);
    button.addEventListener("click", function () {
      copy(text).then(function () {
        say(status, "Citation copied");
      }, function () {
        if (details) details.open = true;
        selectText(text);
        say(status, "Citation selected: copy it with Ctrl+C (⌘C on a Mac)");
      });
    });
  });
}());

(function () {
  "use strict";
  var rows = document.querySelectorAll(".filters .chips");

  function mark(row) {
    // One pixel of slack: a row scrolled to its end can stop a fraction short of it.
    var more = row.scrollWidth - row.clientWidth > 1;
    row.classList.toggle("more-left", more && row.scrollLeft > 1);
    row.classList.toggle("more-right", more && row.scrollLeft + row.clientWidth < row.scrollWidth - 1);
  }

  Array.prototype.forEach.call(rows, function (row) {
    mark(row);
    row.addEventListener("scroll", function () { mark(row); }, { passive: true });
  });
  window.addEventListener("resize", function () { Array.prototype.forEach.call(rows, mark); });
  // A long contents list (a drug label's) starts folded on a phone, so the label's text is on the first screen;
  // on a wider screen it stays open beside the text. Without this file it is simply open.
  if (window.matchMedia && window.matchMedia("(max-width: 48rem)").matches) {
    Array.prototype.forEach.call(document.querySelectorAll("details[data-fold-on-phone]"), function (fold) {
      fold.open = false;
    });
  }
}());
