// The pipeline and forecast boards: drag a card (SortableJS) to move or re-date it. Every
// decision is the server's: a drop posts the move, and the answer says what happened
// (header x-board-outcome): `moved` with the new columns, `dialog` asking for what the stage
// still needs, or `refused` / `approval` with a message while the card goes back.
(function () {
  'use strict';
  var root = document.getElementById('board');
  if (!root || !window.Sortable) return;
  var csrf = (document.querySelector('meta[name="csrf-token"]') || {}).content || '';
  var forecast = root.getAttribute('data-mode') === 'forecast';
  var note = document.getElementById('board-message');
  var slot = document.getElementById('board-dialog-slot');
  var pending = null;
  // After a drop on won: "已赢单 · 撤销" for a few seconds (the server says whether the user may
  // take it back; the undo is an ordinary move back to the stage the card came from).
  var undoBar = document.getElementById('undo-bar');
  var undoTimer = null;
  var UNDO_MS = 8000;

  function hideUndo() {
    clearTimeout(undoTimer);
    if (undoBar) undoBar.hidden = true;
  }

  function offerUndo(id, undo) {
    if (!undoBar) return;
    var text = undoBar.querySelector('[data-text]');
    var button = undoBar.querySelector('button');
    text.textContent = root.getAttribute('data-won') + (undo ? '' : ' · ' + root.getAttribute('data-reopen-hint'));
    button.hidden = !undo;
    button.onclick = function () {
      hideUndo();
      var back = new URLSearchParams(undo);
      var fields = {
        csrf: csrf,
        id: id,
        version: back.get('version') || '',
        stage_id: back.get('stage_id') || '',
        view: root.getAttribute('data-view') || '',
      };
      send(root.getAttribute('data-move-url'), new URLSearchParams(fields).toString(), null, true);
    };
    undoBar.hidden = false;
    clearTimeout(undoTimer);
    undoTimer = setTimeout(hideUndo, UNDO_MS);
  }

  function say(text, kind) {
    note.textContent = text || '';
    note.hidden = !text;
    note.className = 'board-message' + (kind ? ' ' + kind : '');
  }

  function putBack(p) {
    if (!p || !p.item) return;
    if (p.item.parentNode) p.item.parentNode.removeChild(p.item);
    p.from.insertBefore(p.item, p.from.children[p.index] || null);
  }

  function closeDialog() {
    var d = slot.querySelector('dialog');
    pending = null;
    if (d && d.open) d.close();
    slot.innerHTML = '';
  }

  function openDialog(html, p) {
    var old = slot.querySelector('dialog');
    if (old && old.open) { pending = null; old.close(); }
    slot.innerHTML = html;
    var d = slot.querySelector('dialog');
    pending = p;
    d.addEventListener('close', function () {
      // Closed without moving (Escape or Cancel): the card goes back.
      if (pending) { putBack(pending); pending = null; say(root.getAttribute('data-cancelled'), 'error'); }
    });
    d.querySelector('[data-close]').addEventListener('click', function () { d.close(); });
    var form = d.querySelector('form');
    form.addEventListener('submit', function (e) {
      e.preventDefault();
      send(form.getAttribute('action'), new URLSearchParams(new FormData(form)).toString(), p);
    });
    d.showModal();
    var first = d.querySelector('[aria-invalid="true"], .gate-list input, .gate-list select, .gate-list textarea, select, input:not([type=hidden])');
    if (first) first.focus();
  }

  function handle(kind, text, p, headers, undoing) {
    if (kind === 'moved') {
      closeDialog();
      Array.prototype.forEach.call(root.querySelectorAll('.board-drop-list'), function (zone) { zone.innerHTML = ''; });
      var body = document.getElementById('board-body');
      body.innerHTML = text;
      if (window.htmx) window.htmx.process(body);
      setup();
      say(root.getAttribute(undoing ? 'data-undone' : 'data-moved'), 'ok');
      if (!undoing && p && headers.get('x-board-won')) offerUndo(p.id, headers.get('x-board-undo'));
    } else if (kind === 'dialog') {
      openDialog(text, p);
    } else {
      closeDialog();
      putBack(p);
      say(text || root.getAttribute('data-failed'), kind === 'approval' ? 'ok' : 'error');
    }
  }

  function send(url, body, p, undoing) {
    root.classList.add('busy');
    hideUndo();
    return fetch(url, {
      method: 'POST',
      credentials: 'same-origin',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded', 'HX-Request': 'true', 'HX-Current-URL': location.href },
      body: body,
    }).then(function (r) {
      var to = r.headers.get('HX-Redirect');
      if (to) { location.href = to; return; }
      return r.text().then(function (t) { handle(r.headers.get('x-board-outcome'), t, p, r.headers, undoing); });
    }).catch(function () {
      closeDialog();
      putBack(p);
      say(root.getAttribute('data-failed'), 'error');
    }).then(function () { root.classList.remove('busy'); });
  }

  function dropped(evt) {
    if (evt.to === evt.from) return;
    var item = evt.item;
    var p = { item: item, from: evt.from, index: evt.oldIndex, id: item.getAttribute('data-id') };
    var fields = {
      csrf: csrf,
      id: item.getAttribute('data-id'),
      version: item.getAttribute('data-version'),
      view: root.getAttribute('data-view') || '',
    };
    if (forecast) fields.month = evt.to.getAttribute('data-month');
    else fields.stage_id = evt.to.getAttribute('data-stage');
    say('');
    send(root.getAttribute('data-move-url'), new URLSearchParams(fields).toString(), p);
  }

  function setup() {
    var lists = root.querySelectorAll('.board-cards, .board-drop-list');
    Array.prototype.forEach.call(lists, function (list) {
      if (list.getAttribute('data-sortable')) return;
      list.setAttribute('data-sortable', '1');
      var zone = list.classList.contains('board-drop-list');
      Sortable.create(list, {
        group: { name: 'board', pull: !zone, put: !list.getAttribute('data-nodrop') },
        draggable: '.board-card',
        sort: false,
        forceFallback: true,
        fallbackTolerance: 4,
        delay: 150,
        delayOnTouchOnly: true,
        animation: 120,
        ghostClass: 'board-ghost',
        chosenClass: 'board-chosen',
        onEnd: dropped,
      });
    });
  }

  setup();
})();
