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
  // The header's menus (<details>: they open and close without script too): one open at a
  // time; a click elsewhere or Escape closes them.
  var menus = document.querySelectorAll('header.bar details');
  var closeMenus = function (except) {
    Array.prototype.forEach.call(menus, function (menu) {
      if (menu !== except && menu.open) menu.open = false;
    });
  };
  Array.prototype.forEach.call(menus, function (menu) {
    menu.addEventListener('toggle', function () {
      if (menu.open) closeMenus(menu);
    });
  });
  document.addEventListener('click', function (e) {
    var inside = e.target.closest && e.target.closest('header.bar details');
    closeMenus(inside);
  });
  document.addEventListener('keydown', function (e) {
    if (e.key !== 'Escape') return;
    var open = document.querySelector('header.bar details[open]');
    if (!open) return;
    closeMenus(null);
    if (open.contains(document.activeElement)) open.querySelector('summary').focus();
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
