// The board page: fetch the cards again whenever the server says the board changed (a change
// that comes while a fetch is under way fetches once more after it, so none is missed).
(function () {
  var board = document.getElementById("board");
  var live = document.getElementById("live");
  var source = new EventSource("/board/events");
  var busy = false;
  var again = false;
  function refresh() {
    if (busy) { again = true; return; }
    busy = true;
    again = false;
    fetch("/board?part=1", {credentials: "same-origin"})
      .then(function (r) { return r.text(); })
      .then(function (html) { board.innerHTML = html; })
      .finally(function () { busy = false; if (again) refresh(); });
  }
  source.addEventListener("change", refresh);
  source.onopen = function () { live.textContent = "live"; };
  source.onerror = function () { live.textContent = "reconnecting"; };
})();
