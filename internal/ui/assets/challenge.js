// The proof of work Foyer asks of a browser when its network has made
// many attempts (see internal/challenge): find a nonce such that
// SHA-256(token + ":" + nonce) starts with `difficulty` zero bits. The page
// carries the challenge; this script solves it in the background while the
// customer types, and puts the answer into every form on the page. A form
// sent before the answer is ready waits for it. Without JavaScript the
// form goes without an answer, and the page says how long to wait instead.
(function () {
  "use strict";
  var el = document.getElementById("foyer-challenge");
  if (!el) return;
  var token = el.getAttribute("data-token");
  var difficulty = parseInt(el.getAttribute("data-difficulty"), 10);
  var status = document.getElementById("foyer-challenge-status");

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
  if (abc[0] !== 0xba7816bf || abc[7] !== 0xf20015ad) return;

  var prefix = token + ":", skip = prefix.length - (prefix.length % 64), mid = new Uint32Array(H0);
  var pre = new Uint8Array(skip);
  for (var i = 0; i < skip; i++) pre[i] = prefix.charCodeAt(i);
  for (var b = 0; b < skip; b += 64) compress(mid, pre, b);

  var solution = null, waiting = [], nonce = 0;
  function step() {
    var until = Date.now() + 40; // stay responsive: the customer is typing
    while (Date.now() < until) {
      for (var k = 0; k < 2000; k++, nonce++) {
        if (zeroBits(digest(prefix + nonce, mid, skip)) >= difficulty) {
          solution = String(nonce);
          return done();
        }
      }
    }
    setTimeout(step, 0);
  }
  function done() {
    document.querySelectorAll('form[method="post"]').forEach(function (form) {
      [["challenge_token", token], ["challenge_solution", solution]].forEach(function (kv) {
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
    if (status) status.textContent = "Ready.";
    waiting.forEach(function (form) {
      if (form.requestSubmit) form.requestSubmit(form.foyerSubmitter || undefined); else form.submit();
    });
  }
  document.querySelectorAll('form[method="post"]').forEach(function (form) {
    form.addEventListener("submit", function (e) {
      if (solution !== null) return;
      e.preventDefault();
      form.foyerSubmitter = e.submitter;
      if (waiting.indexOf(form) < 0) waiting.push(form);
      if (status) status.textContent = "One moment: your browser is checking in before it sends the form.";
    });
  });
  setTimeout(step, 0);
})();
