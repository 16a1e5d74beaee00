// The board page: fetch the cards again whenever the server says the board changed.
(function () {
  var board = document.getElementById("board");
  var live = document.getElementById("live");
  var source = new EventSource("/board/events");
  var pending = false;
  source.addEventListener("change", function () {
    if (pending) return;
    pending = true;
    fetch("/board?part=1", {credentials: "same-origin"})
      .then(function (r) { return r.text(); })
      .then(function (html) { board.innerHTML = html; })
      .finally(function () { pending = false; });
  });
  source.onopen = function () { live.textContent = "live"; };
  source.onerror = function () { live.textContent = "reconnecting"; };
})();
