// Progressive enhancement for the search box: medicine names suggested as you type (an ARIA
// combobox over GET /suggest), and "/" to jump to the search box. Without this file every page
// works the same, minus the suggestions. Served from /static so the CSP can forbid inline script.
(function () {
  "use strict";
  var input = document.getElementById("q");
  if (!input || !window.fetch) return;
  var endpoint = input.getAttribute("data-suggest");
  var form = input.form;
  var field = input.parentNode;
  var list = document.createElement("ul");
  var status = document.createElement("p");
  var items = [];
  var active = -1;
  var timer = null;
  var latest = 0;

  list.id = "q-suggestions";
  list.className = "suggestions";
  list.setAttribute("role", "listbox");
  list.setAttribute("aria-label", "Medicine names");
  list.hidden = true;
  status.className = "visually-hidden";
  status.setAttribute("role", "status");
  field.appendChild(list);
  field.appendChild(status);
  input.setAttribute("role", "combobox");
  input.setAttribute("aria-autocomplete", "list");
  input.setAttribute("aria-controls", list.id);
  input.setAttribute("aria-expanded", "false");
  input.setAttribute("autocomplete", "off"); // our list replaces the browser's history dropdown

  function close() {
    list.hidden = true;
    active = -1;
    input.setAttribute("aria-expanded", "false");
    input.removeAttribute("aria-activedescendant");
  }

  function highlight(index) {
    active = index;
    for (var i = 0; i < list.children.length; i++) {
      list.children[i].setAttribute("aria-selected", i === index ? "true" : "false");
    }
    if (index >= 0) input.setAttribute("aria-activedescendant", list.children[index].id);
    else input.removeAttribute("aria-activedescendant");
  }

  function choose(index) {
    input.value = items[index].completion + " ";
    close();
    input.focus();
  }

  function show(suggestions) {
    items = suggestions;
    list.textContent = "";
    if (!items.length) { close(); status.textContent = ""; return; }
    items.forEach(function (s, i) {
      var li = document.createElement("li");
      var name = document.createElement("span");
      li.id = "q-suggestion-" + i;
      li.setAttribute("role", "option");
      li.setAttribute("aria-selected", "false");
      name.textContent = s.name;
      li.appendChild(name);
      if (s.title.toLowerCase() !== s.name) {
        var title = document.createElement("span");
        title.className = "suggestion-title";
        title.textContent = s.title;
        li.appendChild(title);
      }
      // mousedown, not click: it fires before the input loses focus and closes the list.
      li.addEventListener("mousedown", function (event) { event.preventDefault(); choose(i); });
      list.appendChild(li);
    });
    active = -1;
    list.hidden = false;
    input.setAttribute("aria-expanded", "true");
    status.textContent = items.length + (items.length === 1 ? " medicine name" : " medicine names") +
      " suggested; use the arrow keys to choose.";
  }

  function fetchSuggestions() {
    var ticket = ++latest;
    fetch(endpoint + "?q=" + encodeURIComponent(input.value), { headers: { Accept: "application/json" } })
      .then(function (response) { return response.ok ? response.json() : { suggestions: [] }; })
      .then(function (data) { if (ticket === latest) show(data.suggestions || []); })
      .catch(function () { if (ticket === latest) close(); });
  }

  input.addEventListener("input", function () {
    clearTimeout(timer);
    timer = setTimeout(fetchSuggestions, 120);
  });

  input.addEventListener("keydown", function (event) {
    if (list.hidden) return;
    if (event.key === "ArrowDown") {
      event.preventDefault();
      highlight(active + 1 < items.length ? active + 1 : 0);
    } else if (event.key === "ArrowUp") {
      event.preventDefault();
      highlight(active > 0 ? active - 1 : items.length - 1);
    } else if (event.key === "Enter" && active >= 0) {
      event.preventDefault();
      choose(active);
    } else if (event.key === "Escape") {
      event.preventDefault();
      close();
    }
  });

  input.addEventListener("blur", close);
  if (form) form.addEventListener("submit", close);

  document.addEventListener("keydown", function (event) {
    var target = event.target;
    var typing = target && (target.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName));
    if (event.key === "/" && !typing && !event.ctrlKey && !event.metaKey && !event.altKey) {
      event.preventDefault();
      input.focus();
      input.select();
    }
  });
}());
