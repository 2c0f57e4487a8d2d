// "Ajouter un document": drag and drop and an upload progress bar, on top of a form that works
// without JavaScript. The server checks everything again; this only spares a useless upload.
(function () {
  "use strict";
  var form = document.querySelector("form.upload-form");
  if (!form || !window.XMLHttpRequest || !window.FormData) return;
  var zone = form.querySelector("[data-dropzone]");
  var input = zone.querySelector("input[type=file]");
  var nameLine = zone.querySelector("[data-file-name]");
  var progressBox = form.querySelector("[data-progress]");
  var bar = progressBox.querySelector("progress");
  var button = form.querySelector("button[type=submit]");
  var maxBytes = parseInt(form.getAttribute("data-max-bytes"), 10);
  // What the server said about the field (hint, its own error): kept under ours.
  var described = input.getAttribute("aria-describedby") || "";
  var invalid = input.getAttribute("aria-invalid");
  var marked = zone.classList.contains("field-error");
  zone.querySelector("[data-drop-hint]").hidden = false;

  function showError(text) {
    var old = zone.querySelector(".js-error");
    if (old) old.parentNode.removeChild(old);
    zone.classList.toggle("field-error", marked || Boolean(text));
    if (!text) {
      if (invalid) input.setAttribute("aria-invalid", invalid); else input.removeAttribute("aria-invalid");
      if (described) input.setAttribute("aria-describedby", described); else input.removeAttribute("aria-describedby");
      return;
    }
    var p = document.createElement("p");
    p.className = "error-message js-error";
    p.id = input.id + "-erreur-js";
    p.setAttribute("role", "alert");
    p.textContent = text;
    input.parentNode.insertBefore(p, input);
    input.setAttribute("aria-invalid", "true");
    input.setAttribute("aria-describedby", (described + " " + p.id).trim());
  }

  // The refusals the server would make without reading the content (same words).
  function refusal() {
    var files = input.files;
    if (!files || !files.length) return "";
    if (files.length > 1) return "Un seul fichier peut être déposé à la fois.";
    if (files[0].size > maxBytes) return "Le fichier dépasse " + String(maxBytes / 1e6).replace(".", ",") + " Mo.";
    if (files[0].size === 0) return "Le fichier est vide.";
    return "";
  }

  function picked() {
    var error = refusal();
    showError(error);
    nameLine.textContent = input.files.length === 1 && !error ? "Fichier choisi : " + input.files[0].name : "";
  }

  function hasFiles(event) {
    var types = event.dataTransfer ? event.dataTransfer.types : [];
    return Array.prototype.indexOf.call(types, "Files") !== -1;
  }

  function over(event) {
    if (!hasFiles(event)) return; // text dragged into a field keeps its usual behaviour
    event.preventDefault();
    var inside = zone.contains(event.target);
    event.dataTransfer.dropEffect = inside ? "copy" : "none";
    zone.classList.toggle("is-over", inside);
  }

  input.addEventListener("change", picked);
  document.addEventListener("dragenter", over);
  document.addEventListener("dragover", over);
  document.addEventListener("dragleave", function (event) {
    if (!event.relatedTarget) zone.classList.remove("is-over"); // the pointer left the window
  });
  document.addEventListener("drop", function (event) {
    if (!hasFiles(event)) return;
    event.preventDefault(); // a file dropped beside the zone must not replace the form
    zone.classList.remove("is-over");
    if (!zone.contains(event.target)) return;
    input.files = event.dataTransfer.files;
    picked();
  });

  function failed() {
    progressBox.hidden = true;
    bar.value = 0;
    button.disabled = false;
    showError("L'envoi a échoué (connexion interrompue). Vérifiez votre connexion et recommencez.");
    input.focus();
  }

  form.addEventListener("submit", function (event) {
    var error = refusal();
    if (error) {
      event.preventDefault();
      showError(error);
      input.focus();
      return;
    }
    if (!input.files || !input.files.length) return; // nothing chosen: the server says so
    event.preventDefault();
    showError("");
    var request = new XMLHttpRequest();
    request.open("POST", form.action);
    request.upload.addEventListener("progress", function (e) {
      if (!e.lengthComputable) return;
      var percent = Math.round((e.loaded / e.total) * 100);
      bar.value = percent;
      bar.textContent = percent + " %";
    });
    request.addEventListener("load", function () {
      // Show the server's answer as a plain submission would: the document's page with its
      // confirmation (the redirect was followed, which consumed the message: do not load it
      // again), or this form with the errors. The address first, so the page's links and
      // forms resolve against it.
      if (request.responseURL && request.responseURL !== window.location.href) {
        window.history.replaceState(null, "", request.responseURL);
      }
      document.open();
      document.write(request.responseText);
      document.close();
      var summary = document.getElementById("erreurs");
      if (summary) summary.focus();
    });
    request.addEventListener("error", failed);
    request.addEventListener("abort", failed);
    progressBox.hidden = false;
    button.disabled = true;
    request.send(new FormData(form));
  });
})();
