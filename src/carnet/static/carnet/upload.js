// "Ajouter un document": drag and drop and an upload progress bar, on top of a form that works
// without JavaScript. The server checks everything again; this only spares a useless upload.
(function () {
  "use strict";
  var form = document.querySelector("form.upload-form");
  if (!form || !window.XMLHttpRequest || !window.FormData) return;
  var zone = form.querySelector("[data-dropzone]");
  var input = zone.querySelector("input[type=file]");
  var hint = zone.querySelector("[data-drop-hint]");
  var nameLine = zone.querySelector("[data-file-name]");
  var progressBox = form.querySelector("[data-progress]");
  var bar = progressBox.querySelector("progress");
  var maxBytes = parseInt(form.getAttribute("data-max-bytes"), 10);
  var title = form.querySelector("input[name=title]");
  hint.hidden = false;

  function showError(text) {
    var old = zone.querySelector(".js-error");
    if (old) old.remove();
    if (!text) { input.removeAttribute("aria-invalid"); return; }
    var p = document.createElement("p");
    p.className = "error-message js-error";
    p.id = input.id + "-erreur-js";
    p.setAttribute("role", "alert");
    p.textContent = text;
    input.parentNode.insertBefore(p, input);
    input.setAttribute("aria-invalid", "true");
    input.setAttribute("aria-describedby", input.id + "-aide " + p.id);
  }

  function picked() {
    var files = input.files;
    showError("");
    nameLine.textContent = "";
    if (!files || files.length === 0) return;
    if (files.length > 1) { showError("Un seul fichier peut être déposé à la fois."); return; }
    var file = files[0];
    if (file.size > maxBytes) { showError("Le fichier dépasse 5 Mo."); return; }
    if (file.size === 0) { showError("Le fichier est vide."); return; }
    nameLine.textContent = "Fichier choisi : " + file.name;
    if (title && !title.value) {
      title.value = file.name.replace(/\.[^.]*$/, "").replace(/[\s_]+/g, " ").trim().slice(0, 50);
    }
  }

  input.addEventListener("change", picked);
  ["dragenter", "dragover"].forEach(function (type) {
    zone.addEventListener(type, function (event) {
      event.preventDefault();
      zone.classList.add("is-over");
    });
  });
  ["dragleave", "drop"].forEach(function (type) {
    zone.addEventListener(type, function () { zone.classList.remove("is-over"); });
  });
  zone.addEventListener("drop", function (event) {
    event.preventDefault();
    if (!event.dataTransfer || !event.dataTransfer.files.length) return;
    input.files = event.dataTransfer.files;
    picked();
  });

  form.addEventListener("submit", function (event) {
    var file = input.files && input.files[0];
    if (!file || file.size > maxBytes || input.files.length > 1) return; // the server says why
    event.preventDefault();
    var request = new XMLHttpRequest();
    request.open("POST", form.action || window.location.href);
    request.upload.addEventListener("progress", function (e) {
      if (!e.lengthComputable) return;
      var percent = Math.round((e.loaded / e.total) * 100);
      bar.value = percent;
      bar.textContent = percent + " %";
    });
    request.addEventListener("load", function () {
      if (request.status === 200 && request.responseURL && request.responseURL !== window.location.href) {
        window.location.assign(request.responseURL); // the document's page
        return;
      }
      // A refusal: show the server's page, errors and all.
      document.open();
      document.write(request.responseText);
      document.close();
    });
    request.addEventListener("error", function () {
      progressBox.hidden = true;
      showError("L'envoi a échoué (connexion interrompue). Vérifiez votre connexion et recommencez.");
    });
    progressBox.hidden = false;
    form.querySelector("button[type=submit]").disabled = true;
    request.send(new FormData(form));
  });
})();
