// Progressive enhancement: a "Copier l'adresse" button next to a read-only field marked
// data-copy-source. Without JavaScript (or clipboard access) the field can still be selected.
(function () {
  "use strict";
  if (!navigator.clipboard || !window.isSecureContext) return;
  document.querySelectorAll("input[data-copy-source]").forEach(function (input) {
    var button = document.createElement("button");
    button.type = "button";
    button.className = "button";
    button.textContent = "Copier l'adresse";
    var status = document.createElement("p");
    status.className = "hint";
    status.setAttribute("role", "status");
    input.insertAdjacentElement("afterend", status);
    input.insertAdjacentElement("afterend", button);
    button.addEventListener("click", function () {
      navigator.clipboard.writeText(input.value).then(
        function () { status.textContent = "Adresse copiée."; },
        function () {
          input.select();
          status.textContent = "La copie a échoué : sélectionnez l'adresse et copiez-la.";
        }
      );
    });
    input.addEventListener("focus", function () { input.select(); });
  });
})();
