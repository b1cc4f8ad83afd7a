// The automation rule form: a condition row offers only the comparisons of its field's
// type, and its value is entered as the field needs (a list of choices, a date, a number);
// a "set a field" action likewise. The form works without this script: the server checks
// every row and names the one that is wrong.
(function () {
  'use strict';
  var data = document.getElementById('rule-catalog');
  var form = document.getElementById('rule-form');
  if (!data || !form) return;
  var catalog = JSON.parse(data.textContent);
  var labels = catalog.labels;
  var fields = {};
  catalog.fields.forEach(function (f) { fields[f.name] = f; });

  function option(value, label, selected) {
    var o = document.createElement('option');
    o.value = value;
    o.textContent = label;
    if (selected) o.selected = true;
    return o;
  }

  // The values entered in a control box (`.c-value`).
  function values(box) {
    var out = [];
    box.querySelectorAll('select, input').forEach(function (el) {
      if (el.tagName === 'SELECT') {
        Array.prototype.forEach.call(el.selectedOptions, function (o) { if (o.value) out.push(o.value); });
      } else if (el.value.trim()) {
        out.push(el.value.trim());
      }
    });
    return out;
  }

  // The same controls as the server's (`control` in automation_pages.rs).
  function control(name, field, op, current, clearing) {
    if (op === 'is_set' || op === 'is_unset') {
      var none = document.createElement('span');
      none.className = 'muted';
      none.textContent = labels.none;
      return none;
    }
    var f = fields[field];
    var list = op === 'in' || op === 'not_in';
    if (f && f.options.length) {
      var select = document.createElement('select');
      select.name = name;
      if (list) {
        select.multiple = true;
        select.size = Math.min(5, f.options.length);
      } else {
        select.appendChild(option('', clearing ? labels.clear : labels.blank, current.length === 0));
      }
      f.options.forEach(function (o) { select.appendChild(option(o.value, o.label, current.indexOf(o.value) >= 0)); });
      return select;
    }
    var input = document.createElement('input');
    input.name = name;
    input.type = 'text';
    input.inputMode = 'text';
    input.value = current.join(', ');
    var type = f ? f.type : '';
    if (list) input.placeholder = labels.list;
    else if (type === 'date') input.type = 'date';
    else if (type === 'number') input.inputMode = 'decimal';
    else if (type === 'money') { input.inputMode = 'decimal'; input.placeholder = labels.yuan; }
    else if (type === 'instant') input.placeholder = labels.instant;
    return input;
  }

  function replace(box, field, op, current, clearing) {
    var el = control(box.getAttribute('data-name'), field, op, current, clearing);
    box.replaceChildren(el);
  }

  form.addEventListener('change', function (e) {
    var t = e.target;
    var row = t.closest('.cond-row');
    if (row && t.classList.contains('c-field')) {
      // Another field: its own comparisons, and a fresh value.
      var f = fields[t.value];
      var ops = row.querySelector('.c-op');
      var was = ops.value;
      if (f) {
        ops.replaceChildren();
        f.ops.forEach(function (o) { ops.appendChild(option(o.value, o.label, o.value === was)); });
        if (!ops.value) ops.selectedIndex = 0;
      }
      replace(row.querySelector('.c-value'), t.value, ops.value, [], false);
    } else if (row && t.classList.contains('c-op')) {
      var box = row.querySelector('.c-value');
      replace(box, row.querySelector('.c-field').value, t.value, values(box), false);
    } else if (t.classList.contains('a-field')) {
      replace(t.closest('.act-row').querySelector('.c-value'), t.value, 'eq', [], true);
    }
  });
})();
