// Progressive enhancement: a search box that filters a long list (select[data-filter]).
// Without JavaScript the list stays a plain select, which keyboards can already jump through.
(function () {
  document.querySelectorAll("select[data-filter]").forEach(function (select, index) {
    var id = "filtre-" + (select.id || index);
    var wrapper = document.createElement("div");
    wrapper.className = "select-filter";
    var label = document.createElement("label");
    label.setAttribute("for", id);
    label.textContent = select.getAttribute("data-filter");
    var input = document.createElement("input");
    input.type = "search";
    input.id = id;
    input.setAttribute("autocomplete", "off");
    input.setAttribute("aria-controls", select.id);
    wrapper.appendChild(label);
    wrapper.appendChild(input);
    select.insertAdjacentElement("beforebegin", wrapper);
    var fold = function (text) {
      return text.normalize("NFD").replace(/[\u0300-\u036f]/g, "").toLowerCase();
    };
    input.addEventListener("input", function () {
      var query = fold(input.value.trim());
      var first = null;
      Array.prototype.forEach.call(select.options, function (option) {
        var match = !option.value || fold(option.text).indexOf(query) !== -1;
        option.hidden = !match;
        if (match && option.value && first === null) first = option;
      });
      if (query && first) select.value = first.value;
    });
  });
})();
