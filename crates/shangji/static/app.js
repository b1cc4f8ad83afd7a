// A little progressive enhancement; every page works without it.
(function () {
  'use strict';
  // Forms that ask before doing something that cannot be undone.
  document.addEventListener('submit', function (e) {
    var message = e.target.getAttribute && e.target.getAttribute('data-confirm');
    if (message && !window.confirm(message)) e.preventDefault();
  });
  // An undo bar (after a deal is won) goes away after a few seconds.
  Array.prototype.forEach.call(document.querySelectorAll('.undo-bar[data-undo-ms]'), function (bar) {
    setTimeout(function () { bar.hidden = true; }, Number(bar.getAttribute('data-undo-ms')) || 8000);
  });
  // The move form: the loss fields only when a lost stage is chosen.
  var stage = document.getElementById('move-stage');
  var lost = document.getElementById('lost-fields');
  if (stage && lost) {
    var sync = function () {
      var option = stage.options[stage.selectedIndex];
      var isLost = option && option.getAttribute('data-kind') === 'lost';
      var invalid = lost.querySelector('[aria-invalid="true"]');
      lost.hidden = !isLost && !invalid;
    };
    stage.addEventListener('change', sync);
    sync();
  }
})();
