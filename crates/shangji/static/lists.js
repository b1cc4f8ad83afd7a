// List pages: select all rows of the page, count the selection. Filters, sorting and paging
// are htmx requests declared in the markup; without scripts they are ordinary links and forms.
(function () {
  'use strict';
  function sync() {
    var boxes = document.querySelectorAll('#list-table tbody input[name=ids]');
    var all = document.getElementById('select-all');
    var count = document.getElementById('selected-count');
    var n = 0;
    boxes.forEach(function (b) { if (b.checked) n++; });
    if (all) {
      all.checked = boxes.length > 0 && n === boxes.length;
      all.indeterminate = n > 0 && n < boxes.length;
    }
    if (count) count.textContent = n > 0 ? '(' + n + ')' : '';
  }
  document.addEventListener('change', function (e) {
    var t = e.target;
    if (t && t.id === 'select-all') {
      document.querySelectorAll('#list-table tbody input[name=ids]').forEach(function (b) { b.checked = t.checked; });
    }
    if (t && (t.id === 'select-all' || t.name === 'ids')) {
      // Choosing rows is not a filter: keep the list form from refreshing.
      e.stopPropagation();
      sync();
    }
  }, true);
  document.addEventListener('htmx:afterSwap', sync);
  // On wide screens the filters are shown from the start; phones keep them folded.
  var more = document.getElementById('more-filters');
  if (more && window.matchMedia('(min-width: 900px)').matches) more.open = true;
})();
