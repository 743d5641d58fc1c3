// Passkeys on Foyer's hosted pages. Everything else works without
// JavaScript; WebAuthn needs it. Served from 'self' under a strict CSP.
(function () {
  "use strict";
  // The page's forms carry the CSRF token; the JSON calls send it too.
  var field = document.querySelector('input[name="csrf_token"]');
  var csrf = field ? field.value : "";

  function b64urlToBuf(s) {
    s = s.replace(/-/g, "+").replace(/_/g, "/");
    while (s.length % 4) s += "=";
    var bin = atob(s), out = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out.buffer;
  }
  function bufToB64url(buf) {
    var bytes = new Uint8Array(buf), bin = "";
    for (var i = 0; i < bytes.length; i++) bin += String.fromCharCode(bytes[i]);
    return btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }
  // Options from JSON, for browsers without parse*OptionsFromJSON.
  function requestOptions(o) {
    if (PublicKeyCredential.parseRequestOptionsFromJSON) return PublicKeyCredential.parseRequestOptionsFromJSON(o);
    o.challenge = b64urlToBuf(o.challenge);
    (o.allowCredentials || []).forEach(function (c) { c.id = b64urlToBuf(c.id); });
    return o;
  }
  function creationOptions(o) {
    if (PublicKeyCredential.parseCreationOptionsFromJSON) return PublicKeyCredential.parseCreationOptionsFromJSON(o);
    o.challenge = b64urlToBuf(o.challenge);
    o.user.id = b64urlToBuf(o.user.id);
    (o.excludeCredentials || []).forEach(function (c) { c.id = b64urlToBuf(c.id); });
    return o;
  }
  function credentialJSON(cred) {
    if (cred.toJSON) return cred.toJSON();
    var r = cred.response, out = { id: cred.id, rawId: bufToB64url(cred.rawId), type: cred.type, clientExtensionResults: {}, response: { clientDataJSON: bufToB64url(r.clientDataJSON) } };
    if (r.attestationObject) {
      out.response.attestationObject = bufToB64url(r.attestationObject);
      if (r.getTransports) out.response.transports = r.getTransports();
    } else {
      out.response.authenticatorData = bufToB64url(r.authenticatorData);
      out.response.signature = bufToB64url(r.signature);
      out.response.userHandle = r.userHandle ? bufToB64url(r.userHandle) : null;
    }
    return out;
  }
  // The page words what this script says, in its language: data-msg-*
  // attributes on the button that starts a ceremony — error (a failure
  // without words of its own), exists, cancelled and insecure (the
  // browser's refusals), failed (the ceremony did not work). fallback
  // stands in for a page that does not carry them.
  function texts(el, fallback) {
    var t = {};
    ["error", "exists", "cancelled", "insecure", "failed"].forEach(function (k) {
      t[k] = (el && el.getAttribute("data-msg-" + k)) || (fallback && fallback[k]) || "";
    });
    return t;
  }
  // Foyer's answers come in the page's language.
  var lang = document.documentElement.getAttribute("lang");
  function post(url, body, t) {
    var headers = { "Content-Type": "application/json", "X-CSRF-Token": csrf };
    if (lang) headers["Accept-Language"] = lang;
    return fetch(url, {
      method: "POST", credentials: "same-origin", headers: headers,
      body: JSON.stringify(body || {})
    }).then(function (r) {
      return r.json().catch(function () { return {}; }).then(function (j) {
        if (r.status === 401 && j.location) { window.location.assign(j.location); throw new Error(""); }
        if (!r.ok) throw new Error(j.detail || j.title || t.error);
        return j;
      });
    });
  }
  function show(el, msg) { if (el && msg) { el.textContent = msg; el.hidden = false; } }
  // failure says what went wrong in the customer's words (t): the
  // browser's own messages are for developers; Foyer's (from post) are
  // meant to be read.
  function failure(e, t) {
    if (typeof DOMException !== "undefined" && e instanceof DOMException) {
      switch (e.name) {
        case "InvalidStateError": return t.exists || t.failed;
        case "NotAllowedError": return t.cancelled || t.failed;
        case "SecurityError": return t.insecure || t.failed;
      }
      return t.failed;
    }
    return (e && e.message) || t.failed;
  }

  if (!window.PublicKeyCredential) return;

  // Sign in with a passkey: from the button (a modal prompt), or from the
  // email field's autofill list where the browser offers passkeys there
  // (conditional mediation). Starting one cancels the other.
  var login = document.getElementById("passkey-login");
  var conditional = null;
  function passkeySignIn(mediation) {
    var err = document.getElementById("passkey-error"), t = texts(login);
    var controller = new AbortController();
    if (conditional) conditional.abort();
    conditional = mediation === "conditional" ? controller : null;
    post("/passkeys/login/options", null, t).then(function (o) {
      var req = { publicKey: requestOptions(o.options.publicKey), signal: controller.signal };
      if (mediation) req.mediation = mediation;
      return navigator.credentials.get(req).then(function (cred) {
        return post("/passkeys/login", { challenge_id: o.challenge_id, credential: credentialJSON(cred), return_to: login.getAttribute("data-return-to") || "",
          flow: login.getAttribute("data-flow") || "" }, t);
      });
    }).then(function (res) { window.location.assign(res.redirect); })
      .catch(function (e) {
        // Autofill fails quietly: the customer has not asked for anything.
        if (mediation === "conditional" || controller.signal.aborted || e.name === "AbortError") return;
        show(err, failure(e, t));
      });
  }
  if (login) {
    login.hidden = false;
    login.addEventListener("click", function () { passkeySignIn(""); });
    var field = document.querySelector("input[data-passkey-autofill]");
    if (field && PublicKeyCredential.isConditionalMediationAvailable) {
      PublicKeyCredential.isConditionalMediationAvailable().then(function (ok) {
        if (!ok) return;
        // Password managers still read the field as an email address;
        // the extra token lets the browser list passkeys in its autofill.
        field.setAttribute("autocomplete", field.getAttribute("autocomplete") + " webauthn");
        passkeySignIn("conditional");
      }).catch(function () {});
    }
  }

  var signup = document.getElementById("passkey-signup");
  if (signup) signup.hidden = false;

  // The passkey of a passwordless sign-up, once the email is verified.
  var create = document.getElementById("passkey-create");
  if (create) {
    create.hidden = false;
    var unsupported = document.getElementById("passkey-unsupported");
    if (unsupported) unsupported.hidden = true;
    create.addEventListener("click", function () {
      var err = document.getElementById("passkey-create-error"), t = texts(create);
      post(create.getAttribute("data-options"), null, t).then(function (o) {
        return navigator.credentials.create({ publicKey: creationOptions(o.options.publicKey) }).then(function (cred) {
          return post(create.getAttribute("data-finish"), { challenge_id: o.challenge_id, credential: credentialJSON(cred) }, t);
        });
      }).then(function (res) { window.location.assign(res.redirect); })
        .catch(function (e) { show(err, failure(e, t)); });
    });
  }

  // The account page's words for as long as its button does not carry
  // them (data-msg-*, as above).
  var addFallback = {
    error: "Something went wrong.",
    exists: "This device already has a passkey for your account.",
    cancelled: "The passkey request was cancelled or timed out. Please try again.",
    insecure: "Passkeys are not available on this page.",
    failed: "The passkey could not be added."
  };
  var add = document.getElementById("passkey-add");
  if (add) {
    add.hidden = false;
    var nameField = document.getElementById("passkey-name-field");
    if (nameField) nameField.hidden = false;
    add.addEventListener("click", function () {
      var err = document.getElementById("passkey-add-error"), t = texts(add, addFallback);
      var name = document.getElementById("passkey-name");
      post("/account/passkeys/options", null, t).then(function (o) {
        return navigator.credentials.create({ publicKey: creationOptions(o.options.publicKey) }).then(function (cred) {
          return post("/account/passkeys", { challenge_id: o.challenge_id, name: name ? name.value : "", credential: credentialJSON(cred) }, t);
        });
      }).then(function () { window.location.reload(); })
        .catch(function (e) { show(err, failure(e, t)); });
    });
  }
})();
