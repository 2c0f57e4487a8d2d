// Passkeys (WebAuthn) on two forms: #passkey-register (settings) and #passkey-login (login
// page). The server gives the options as JSON (challenge, relying party); the browser asks
// the authenticator; its answer goes back as JSON in the form's hidden "credential" field and
// the form is submitted as usual, so the server answers with an ordinary page.
(function () {
  "use strict";

  function toBytes(base64url) {
    var base64 = base64url.replace(/-/g, "+").replace(/_/g, "/");
    while (base64.length % 4) base64 += "=";
    var binary = atob(base64);
    var bytes = new Uint8Array(binary.length);
    for (var i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
    return bytes.buffer;
  }

  function toBase64url(buffer) {
    var bytes = new Uint8Array(buffer);
    var binary = "";
    for (var i = 0; i < bytes.length; i++) binary += String.fromCharCode(bytes[i]);
    return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function credentialJSON(credential) {
    var response = credential.response;
    var json = {
      id: credential.id,
      rawId: toBase64url(credential.rawId),
      type: credential.type,
      clientExtensionResults: credential.getClientExtensionResults(),
      response: { clientDataJSON: toBase64url(response.clientDataJSON) }
    };
    if (credential.authenticatorAttachment) json.authenticatorAttachment = credential.authenticatorAttachment;
    if (response.attestationObject) {
      json.response.attestationObject = toBase64url(response.attestationObject);
      if (response.getTransports) json.response.transports = response.getTransports();
    } else {
      json.response.authenticatorData = toBase64url(response.authenticatorData);
      json.response.signature = toBase64url(response.signature);
      if (response.userHandle) json.response.userHandle = toBase64url(response.userHandle);
    }
    return JSON.stringify(json);
  }

  function fetchOptions(form) {
    var token = form.querySelector("input[name=csrfmiddlewaretoken]").value;
    return fetch(form.dataset.optionsUrl, {
      method: "POST",
      credentials: "same-origin",
      headers: { "X-CSRFToken": token, "Accept": "application/json" }
    }).then(function (answer) {
      return answer.json().then(function (body) {
        if (!answer.ok) throw new Error(body.error || "Le service ne répond pas : réessayez.");
        return body;
      });
    });
  }

  function ceremony(form, run, status) {
    form.addEventListener("submit", function (event) {
      if (form.dataset.ready === "1") return; // the answer is in: let the form go
      event.preventDefault();
      status.textContent = "Suivez les instructions de votre appareil…";
      fetchOptions(form)
        .then(run)
        .then(function (credential) {
          form.querySelector("input[name=credential]").value = credentialJSON(credential);
          form.dataset.ready = "1";
          form.submit();
        })
        .catch(function (error) {
          status.textContent = error && error.name === "NotAllowedError"
            ? "Opération annulée ou délai dépassé : recommencez."
            : (error && error.message) || "La clé d'accès n'a pas pu être utilisée : recommencez.";
        });
    });
  }

  var supported = window.PublicKeyCredential && navigator.credentials && window.isSecureContext;

  var register = document.getElementById("passkey-register");
  if (register) {
    if (!supported) {
      register.hidden = true;
      document.getElementById("passkey-unsupported").hidden = false;
    } else {
      ceremony(register, function (options) {
        options.challenge = toBytes(options.challenge);
        options.user.id = toBytes(options.user.id);
        (options.excludeCredentials || []).forEach(function (c) { c.id = toBytes(c.id); });
        return navigator.credentials.create({ publicKey: options });
      }, document.getElementById("passkey-status"));
    }
  }

  var login = document.getElementById("passkey-login");
  if (login && supported) {
    login.closest("section").hidden = false;
    ceremony(login, function (options) {
      options.challenge = toBytes(options.challenge);
      (options.allowCredentials || []).forEach(function (c) { c.id = toBytes(c.id); });
      return navigator.credentials.get({ publicKey: options });
    }, document.getElementById("passkey-login-status"));
  }
})();
