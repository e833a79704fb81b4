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

// A drug label's sections fold on a phone (issue 28): a label is 40 to 70 sections, far too long to scroll through
// on a small screen, so there each section's text folds under its heading, and a button in the heading (the
// disclosure pattern: the heading stays a heading, the button says whether it is expanded) opens it. The boxed
// warning, the section a result linked to and the section in the address (#id) are open; a link to a section
// opens it before the browser scrolls to it; "Expand all sections" opens every one. Folded text is
// hidden="until-found", so the browser's find-in-page still finds it (and opens its section). On a wider screen,
// when printing and without this file every section is open.
(function () {
  "use strict";
  var sections = document.querySelectorAll(".article-body section[data-fold]");
  if (!sections.length || !window.matchMedia) return;
  var phone = window.matchMedia("(max-width: 48rem)");
  var body = document.querySelector(".article-body");
  var folds = [];  // per section: {section, heading, text, button}
  var all = null;  // the "Expand all / Collapse all" button

  function isOpen(fold) { return fold.button.getAttribute("aria-expanded") === "true"; }

  function setOpen(fold, open) {
    fold.button.setAttribute("aria-expanded", open ? "true" : "false");
    if (open) fold.text.removeAttribute("hidden");
    else fold.text.setAttribute("hidden", "until-found");
  }

  function sayAll() {
    var every = folds.every(isOpen);
    all.textContent = every ? "Collapse all sections" : "Expand all sections";
    all.setAttribute("data-expand", every ? "false" : "true");
  }

  function foldOf(node) {
    var section = node && node.closest ? node.closest("section[data-fold]") : null;
    for (var n = 0; n < folds.length; n += 1) if (folds[n].section === section) return folds[n];
    return null;
  }

  function target(hash) {
    if (!hash || hash.length < 2) return null;
    try { return document.getElementById(decodeURIComponent(hash.slice(1))); } catch (malformed) { return null; }
  }

  // Open the section holding the element a fragment names; true when it names one.
  function openFor(hash) {
    var fold = foldOf(target(hash));
    if (!fold) return false;
    if (!isOpen(fold)) { setOpen(fold, true); sayAll(); }
    return true;
  }

  function fold(section) {
    var heading = section.querySelector("h2");
    var text = section.querySelector(".section-text");
    if (!heading || !text) return;
    var button = document.createElement("button");
    var label = document.createElement("span");
    button.type = "button";
    button.className = "fold-toggle";
    button.setAttribute("aria-controls", text.id);
    label.className = "fold-label";
    while (heading.firstChild) label.appendChild(heading.firstChild);
    button.appendChild(label);
    heading.appendChild(button);
    var item = {section: section, heading: heading, text: text, button: button};
    button.addEventListener("click", function () { setOpen(item, !isOpen(item)); sayAll(); });
    // Find-in-page opened it (the browser removes "hidden" itself).
    text.addEventListener("beforematch", function () { setOpen(item, true); sayAll(); });
    folds.push(item);
    setOpen(item, section.classList.contains("boxed-warning") || section.classList.contains("from-result"));
  }

  function enhance(atLoad) {
    Array.prototype.forEach.call(sections, fold);
    if (!folds.length) return;
    all = document.createElement("button");
    all.type = "button";
    all.className = "fold-all";
    all.addEventListener("click", function () {
      var open = all.getAttribute("data-expand") === "true";
      folds.forEach(function (item) { setOpen(item, open); });
      sayAll();
    });
    body.insertBefore(all, body.firstChild);
    body.classList.add("folding");
    var wanted = target(window.location.hash);
    openFor(window.location.hash);
    sayAll();
    // Folding moved the text under the address's section: bring it back into view.
    if (wanted && atLoad) wanted.scrollIntoView();
  }

  function unfold() {
    folds.forEach(function (item) {
      var label = item.button.firstChild;
      while (label.firstChild) item.heading.insertBefore(label.firstChild, item.button);
      item.heading.removeChild(item.button);
      item.text.removeAttribute("hidden");
    });
    folds = [];
    if (all) all.parentNode.removeChild(all);
    all = null;
    body.classList.remove("folding");
  }

  if (phone.matches) enhance(true);
  var changed = function () { if (phone.matches && !folds.length) enhance(); else if (!phone.matches) unfold(); };
  if (phone.addEventListener) phone.addEventListener("change", changed);
  else if (phone.addListener) phone.addListener(changed);
  // A link to a section (the contents, "What changed") opens it before the browser scrolls to it.
  document.addEventListener("click", function (event) {
    var link = event.target.closest ? event.target.closest("a[href^='#']") : null;
    if (link && folds.length) openFor(link.getAttribute("href"));
  });
  // Back and forward between sections, or an address typed with another #id.
  window.addEventListener("hashchange", function () {
    if (folds.length && openFor(window.location.hash)) {
      var wanted = target(window.location.hash);
      if (wanted) wanted.scrollIntoView();
    }
  });
  // Paper gets every section; the screen gets back what the reader had open.
  var printed = [];
  window.addEventListener("beforeprint", function () {
    printed = folds.filter(function (item) { return !isOpen(item); });
    printed.forEach(function (item) { item.text.removeAttribute("hidden"); });
  });
  window.addEventListener("afterprint", function () {
    printed.forEach(function (item) { if (!isOpen(item)) setOpen(item, false); });
    printed = [];
  });
}());
