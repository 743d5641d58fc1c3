// Tells Foyer the browser's time zone, so that pages show dates and times
// in the customer's own (ui/dates.go); without it they are in UTC.
(function () {
  "use strict";
  var tz;
  try { tz = Intl.DateTimeFormat().resolvedOptions().timeZone; } catch (e) { return; }
  if (!tz || !/^[A-Za-z0-9_+\-\/]{1,64}$/.test(tz)) { return; }
  if (document.cookie.split("; ").indexOf("foyer_tz=" + tz) >= 0) { return; }
  document.cookie = "foyer_tz=" + tz + "; path=/; max-age=31536000; samesite=lax" + (location.protocol === "https:" ? "; secure" : "");
})();
