// The proof of work Foyer asks of a browser when its network has made
// many attempts (see internal/challenge): find a nonce such that
// SHA-256(token + ":" + nonce) starts with `difficulty` zero bits. The page
// carries the challenge; this script solves it in the background (in a
// worker, so that it goes on while the customer is in another tab reading
// their mail) while the customer types, and puts the answer into every
// form on the page. A form sent before the answer is ready waits for it,
// and says how far along it is. A challenge that expires first is swapped
// for a new one (GET /challenge). Without JavaScript the form goes without
// an answer, and the page says how long to wait instead.
(function () {
  "use strict";

  // SHA-256 (FIPS 180-4) over ASCII strings, small and synchronous: the
  // search hashes millions of short strings, where crypto.subtle's
  // promise per digest would cost more than the hash.
  var K = new Uint32Array(64), H0 = new Uint32Array(8);
  (function constants() {
    var primes = [], n = 2;
    while (primes.length < 64) {
      var prime = true;
      for (var i = 0; i < primes.length && primes[i] * primes[i] <= n; i++) {
        if (n % primes[i] === 0) { prime = false; break; }
      }
      if (prime) primes.push(n);
      n++;
    }
    var frac = function (x) { return ((x - Math.floor(x)) * 4294967296) >>> 0; };
    for (var j = 0; j < 64; j++) K[j] = frac(Math.cbrt(primes[j]));
    for (var k = 0; k < 8; k++) H0[k] = frac(Math.sqrt(primes[k]));
  })();

  var W = new Uint32Array(64);
  function compress(H, block, off) {
    for (var t = 0; t < 16; t++) {
      W[t] = (block[off + 4 * t] << 24) | (block[off + 4 * t + 1] << 16) | (block[off + 4 * t + 2] << 8) | block[off + 4 * t + 3];
    }
    for (t = 16; t < 64; t++) {
      var w15 = W[t - 15], w2 = W[t - 2];
      var s0 = ((w15 >>> 7) | (w15 << 25)) ^ ((w15 >>> 18) | (w15 << 14)) ^ (w15 >>> 3);
      var s1 = ((w2 >>> 17) | (w2 << 15)) ^ ((w2 >>> 19) | (w2 << 13)) ^ (w2 >>> 10);
      W[t] = (W[t - 16] + s0 + W[t - 7] + s1) | 0;
    }
    var a = H[0], b = H[1], c = H[2], d = H[3], e = H[4], f = H[5], g = H[6], h = H[7];
    for (t = 0; t < 64; t++) {
      var S1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7));
      var ch = (e & f) ^ (~e & g);
      var t1 = (h + S1 + ch + K[t] + W[t]) | 0;
      var S0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10));
      var maj = (a & b) ^ (a & c) ^ (b & c);
      var t2 = (S0 + maj) | 0;
      h = g; g = f; f = e; e = (d + t1) | 0; d = c; c = b; b = a; a = (t1 + t2) | 0;
    }
    H[0] = (H[0] + a) | 0; H[1] = (H[1] + b) | 0; H[2] = (H[2] + c) | 0; H[3] = (H[3] + d) | 0;
    H[4] = (H[4] + e) | 0; H[5] = (H[5] + f) | 0; H[6] = (H[6] + g) | 0; H[7] = (H[7] + h) | 0;
  }

  // digest hashes an ASCII string; with a midstate (the state after the
  // string's first whole blocks, which stay the same for every nonce) it
  // hashes only the rest.
  function digest(s, mid, skip) {
    var len = s.length, rest = len - skip;
    var blocks = Math.ceil((rest + 9) / 64), buf = new Uint8Array(blocks * 64);
    for (var i = 0; i < rest; i++) buf[i] = s.charCodeAt(skip + i);
    buf[rest] = 0x80;
    var bits = len * 8;
    buf[buf.length - 4] = bits >>> 24; buf[buf.length - 3] = bits >>> 16;
    buf[buf.length - 2] = bits >>> 8; buf[buf.length - 1] = bits;
    var H = new Uint32Array(mid);
    for (var b = 0; b < blocks; b++) compress(H, buf, b * 64);
    return H;
  }
  function zeroBits(H) {
    var n = 0;
    for (var i = 0; i < 8; i++) {
      if (H[i] === 0) { n += 32; continue; }
      return n + Math.clz32(H[i]);
    }
    return n;
  }
  // A known answer first: a browser whose arithmetic differs would
  // otherwise search for ever.
  var abc = digest("abc", H0, 0);
  var sound = abc[0] === 0xba7816bf && abc[7] === 0xf20015ad;

  // solver searches nonces from 0 for token at difficulty, a batch at a
  // time: step(n) tries n more and returns the answer once found.
  function solver(token, difficulty) {
    var prefix = token + ":", skip = prefix.length - (prefix.length % 64), mid = new Uint32Array(H0);
    var pre = new Uint8Array(skip);
    for (var i = 0; i < skip; i++) pre[i] = prefix.charCodeAt(i);
    for (var b = 0; b < skip; b += 64) compress(mid, pre, b);
    var nonce = 0;
    return {
      tried: function () { return nonce; },
      step: function (n) {
        for (var end = nonce + n; nonce < end; nonce++) {
          if (zeroBits(digest(prefix + nonce, mid, skip)) >= difficulty) return String(nonce);
        }
        return null;
      }
    };
  }

  // In a worker: solve what the page posts, telling it how far along.
  if (typeof document === "undefined") {
    self.onmessage = function (e) {
      var s = solver(e.data.token, e.data.difficulty), found = null;
      while (found === null) {
        found = s.step(1 << 14);
        self.postMessage({ token: e.data.token, tried: s.tried(), solution: found });
      }
    };
    return;
  }

  var el = document.getElementById("foyer-challenge");
  if (!el || !sound) return;
  var status = document.getElementById("foyer-challenge-status");
  var here = document.currentScript && document.currentScript.src;
  var current = { token: el.getAttribute("data-token"), difficulty: parseInt(el.getAttribute("data-difficulty"), 10),
    expires: parseInt(el.getAttribute("data-expires"), 10) };
  var solution = null, waiting = [], worker = null, tried = 0;
  // The page words what this script says, in its language: data-msg-*
  // attributes on its form (progress has a {percent} to fill).
  var texts = document.querySelector("form[data-msg-progress]");
  function wording(name) { return (texts && texts.getAttribute("data-msg-" + name)) || ""; }

  function say(text) {
    if (!status || !text) return;
    status.textContent = text;
    status.hidden = false;
  }
  function progress() {
    // Expected tries are 2^difficulty; the last stretch is shown as 95%.
    var p = Math.min(95, Math.floor(100 * tried / Math.pow(2, current.difficulty)));
    say(wording("progress").replace("{percent}", String(p)));
  }
  function solve() {
    solution = null;
    tried = 0;
    if (worker) worker.terminate();
    worker = null;
    if (typeof Worker === "function" && here) {
      try {
        worker = new Worker(here);
        worker.onmessage = function (e) {
          if (e.data.token !== current.token) return;
          tried = e.data.tried;
          if (e.data.solution !== null) done(e.data.solution);
          else if (waiting.length) progress();
        };
        worker.onerror = function () { worker = null; inPage(); };
        worker.postMessage({ token: current.token, difficulty: current.difficulty });
        return;
      } catch (err) {
        worker = null;
      }
    }
    inPage();
  }
  // Without workers: on the page, in slices, to stay responsive.
  function inPage() {
    var s = solver(current.token, current.difficulty), token = current.token;
    (function step() {
      if (token !== current.token) return;
      var until = Date.now() + 40, found = null;
      while (found === null && Date.now() < until) found = s.step(2000);
      tried = s.tried();
      if (found !== null) return done(found);
      if (waiting.length) progress();
      setTimeout(step, 0);
    })();
  }
  function done(found) {
    solution = found;
    document.querySelectorAll('form[method="post"]').forEach(function (form) {
      [["challenge_token", current.token], ["challenge_solution", solution]].forEach(function (kv) {
        var input = form.querySelector('input[name="' + kv[0] + '"]');
        if (!input) {
          input = document.createElement("input");
          input.type = "hidden";
          input.name = kv[0];
          form.appendChild(input);
        }
        input.value = kv[1];
      });
    });
    if (waiting.length) say(wording("done"));
    var forms = waiting;
    waiting = [];
    forms.forEach(function (form) {
      if (form.requestSubmit) form.requestSubmit(form.foyerSubmitter || undefined); else form.submit();
    });
  }
  // A challenge about to expire is swapped for a new one.
  function renew() {
    return fetch("/challenge", { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { return r.status === 200 ? r.json() : null; })
      .then(function (c) {
        if (!c) return;
        current = { token: c.token, difficulty: c.difficulty, expires: Date.parse(c.expires_at) };
        solve();
      })
      .catch(function () {});
  }
  function fresh() { return Date.now() < current.expires - 15000; }
  document.querySelectorAll('form[method="post"]').forEach(function (form) {
    form.addEventListener("submit", function (e) {
      if (solution !== null && fresh()) return;
      e.preventDefault();
      form.foyerSubmitter = e.submitter;
      if (waiting.indexOf(form) < 0) waiting.push(form);
      if (!fresh()) renew();
      progress();
    });
  });
  setInterval(function () { if (!fresh()) renew(); }, 30000);
  solve();
})();
