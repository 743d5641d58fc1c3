// Counts down the wait a throttled form must keep (ui: view.Wait): the
// timer shows m:ss, the form's marked buttons stay off until it ends,
// then come back on and the timer goes. Without this script the buttons
// are never off: the server still says when the form may go.
(function () {
  "use strict";
  var timer = document.querySelector("[data-countdown]");
  if (!timer) { return; }
  var left = parseInt(timer.getAttribute("data-countdown"), 10);
  if (!(left > 0)) { return; }
  var buttons = document.querySelectorAll("button[data-wait-button]");
  var end = Date.now() + left * 1000;
  function set(off) { for (var i = 0; i < buttons.length; i++) { buttons[i].disabled = off; } }
  function show(s) { timer.textContent = Math.floor(s / 60) + ":" + ("0" + (s % 60)).slice(-2); }
  set(true);
  var tick = setInterval(function () {
    var s = Math.max(0, Math.ceil((end - Date.now()) / 1000));
    show(s);
    if (s === 0) {
      clearInterval(tick);
      set(false);
      timer.parentNode.hidden = true;
    }
  }, 250);
})();
