// Progressive enhancement: a strength meter beside the password field (the rules are
// enforced by the server; this only helps while typing).
(function () {
  var input = document.getElementById("id_password");
  var meter = document.getElementById("password-meter");
  if (!input || !meter) return;
  meter.hidden = false;
  var bar = meter.querySelector("span");
  var text = document.getElementById("password-meter-text");
  input.addEventListener("input", function () {
    var v = input.value, score = 0;
    if (v.length >= 12) score++;
    if (v.length >= 16) score++;
    if (/[^a-zA-Z0-9]/.test(v) || /\s/.test(v)) score++;
    if (/\d/.test(v) && /[a-zA-Z]/.test(v)) score++;
    if (v.length < 12 || /^\d+$/.test(v)) score = 0;
    bar.style.width = (score * 25) + "%";
    text.textContent = v.length < 12 ? "Trop court (12 caractères au moins)"
      : /^\d+$/.test(v) ? "Refusé : uniquement des chiffres"
      : ["Faible", "Faible", "Moyen", "Bon", "Très bon"][score];
  });
})();
