// Portside's only script. Pages whose <main> has data-refresh="N" fetch themselves every
// N seconds and swap in the new <main>: the page works without it. A refresh is skipped
// while the page is hidden or while you are typing into one of its fields.
(function () {
  "use strict";
  var main = document.querySelector("main[data-refresh]");
  if (!main || !window.fetch || !window.DOMParser) return;
  var every = Math.max(2, Number(main.getAttribute("data-refresh")) || 5) * 1000;

  function busy() {
    if (document.hidden) return true;
    var fields = main.querySelectorAll("input:not([type=hidden]), textarea, select");
    for (var i = 0; i < fields.length; i++) {
      if (fields[i] === document.activeElement || fields[i].value) return true;
    }
    return false;
  }

  function tick() {
    if (busy()) return schedule();
    fetch(window.location.href, { credentials: "same-origin", cache: "no-store" })
      .then(function (response) { return response.ok ? response.text() : null; })
      .then(function (html) {
        if (html === null || busy()) return;
        var fresh = new DOMParser().parseFromString(html, "text/html").querySelector("main");
        if (fresh) main.replaceChildren.apply(main, Array.prototype.slice.call(fresh.childNodes));
      })
      .catch(function () { /* offline for a moment: try again at the next tick */ })
      .then(schedule);
  }

  function schedule() { window.setTimeout(tick, every); }
  schedule();
})();
