// Conveniences of the account pages, on pages that work without them:
// copying the recovery codes or the authenticator key, and printing the
// codes. Their buttons stay hidden where this script does not run, or the
// browser cannot do what they do. Served from 'self' under a strict CSP.
(function () {
  "use strict";

  // The text a copy button copies: a list's items one a line (recovery
  // codes), else the element's text (the key, whole: the page shows it in
  // blocks only to read).
  function textOf(el) {
    var items = el.querySelectorAll("li");
    if (!items.length) return el.textContent.trim();
    return Array.prototype.map.call(items, function (li) { return li.textContent.trim(); }).join("\n");
  }

  // data-copy names the element to copy, data-status the element
  // (role=status) that says how it went, in the page's words: the
  // button's data-msg-done or data-msg-failed. It is emptied first, so
  // that the same words said again are announced again.
  function copyButton(button) {
    var source = document.getElementById(button.getAttribute("data-copy"));
    var status = document.getElementById(button.getAttribute("data-status"));
    if (!source) return;
    function say(msg) { if (status) status.textContent = msg || ""; }
    button.hidden = false;
    button.addEventListener("click", function () {
      say("");
      navigator.clipboard.writeText(textOf(source)).then(
        function () { say(button.getAttribute("data-msg-done")); },
        function () { say(button.getAttribute("data-msg-failed")); });
    });
  }

  // The Clipboard API exists only on secure pages (https, localhost).
  if (navigator.clipboard && navigator.clipboard.writeText) {
    Array.prototype.forEach.call(document.querySelectorAll("button[data-copy]"), copyButton);
  }

  // Print: the print stylesheet (foyer.css, "account polish") keeps only
  // the codes, under the product's name and the date.
  if (typeof window.print === "function") {
    Array.prototype.forEach.call(document.querySelectorAll("button[data-print]"), function (button) {
      button.hidden = false;
      button.addEventListener("click", function () { window.print(); });
    });
  }
})();
