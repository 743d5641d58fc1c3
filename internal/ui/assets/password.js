// A show-password button in every password field: it switches the field
// between type=password and type=text, says which with aria-pressed, and
// is an ordinary button, reached with Tab and pressed with Enter or Space.
// Its label stays "Show password" whatever its state: a toggle button's
// state is aria-pressed's to tell, and a label that changed with it would
// be read as "Hide password, pressed". The field keeps its name and
// autocomplete, and is a password field again before its form goes, so
// password managers still recognise and save it. The words come from the
// page (data-password-show on <body>, in the page's language); a page
// without them (an operator's own layout) gets no button. Without this
// script the fields are plain password fields.
(function () {
  "use strict";
  var label = document.body.getAttribute("data-password-show");
  if (!label) { return; }
  var fields = document.querySelectorAll('input[type="password"]');
  for (var i = 0; i < fields.length; i++) { addToggle(fields[i]); }

  function addToggle(input) {
    // Wrapping moves the field, which loses focus (autofocus included).
    var focused = document.activeElement === input;
    var wrap = document.createElement("span");
    wrap.className = "password-field";
    input.parentNode.insertBefore(wrap, input);
    wrap.appendChild(input);
    var button = document.createElement("button");
    button.type = "button";
    button.className = "password-toggle";
    button.setAttribute("aria-label", label);
    button.title = label;
    if (input.id) { button.setAttribute("aria-controls", input.id); }
    wrap.appendChild(button);
    if (focused) { input.focus(); }

    function set(visible) {
      input.type = visible ? "text" : "password";
      button.setAttribute("aria-pressed", visible ? "true" : "false");
      button.replaceChildren(eye(visible));
    }
    set(false);
    button.addEventListener("click", function () { set(input.type === "password"); });
    if (input.form) { input.form.addEventListener("submit", function () { set(false); }); }
  }

  // eye draws an open eye (the password is hidden: press to show it) or a
  // struck-through one (it shows: press to hide it).
  function eye(struck) {
    var ns = "http://www.w3.org/2000/svg";
    var svg = document.createElementNS(ns, "svg");
    var attrs = { viewBox: "0 0 24 24", width: "20", height: "20", fill: "none", stroke: "currentColor",
      "stroke-width": "2", "stroke-linecap": "round", "stroke-linejoin": "round", "aria-hidden": "true", focusable: "false" };
    for (var k in attrs) { svg.setAttribute(k, attrs[k]); }
    var shapes = [["path", { d: "M2 12s3.6-7 10-7 10 7 10 7-3.6 7-10 7S2 12 2 12z" }], ["circle", { cx: "12", cy: "12", r: "3" }]];
    if (struck) { shapes.push(["path", { d: "M4 4l16 16" }]); }
    shapes.forEach(function (s) {
      var el = document.createElementNS(ns, s[0]);
      for (var a in s[1]) { el.setAttribute(a, s[1][a]); }
      svg.appendChild(el);
    });
    return svg;
  }
})();
