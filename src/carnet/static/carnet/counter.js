// Progressive enhancement: a live "0 / 3000" counter under each limited text area.
(function () {
  document.querySelectorAll("textarea[data-counter]").forEach(function (area) {
    var max = area.getAttribute("data-counter");
    var out = document.createElement("p");
    out.className = "hint";
    out.setAttribute("aria-live", "polite");
    area.insertAdjacentElement("afterend", out);
    function update() { out.textContent = area.value.length + " / " + max; }
    area.addEventListener("input", update);
    update();
  });
})();
