// Charts on report pages: every element with `data-chart` holds an ECharts option as JSON
// (built by the server, texts already in the user's language). Charts are drawn on load and
// after htmx swaps, and follow the window's size. Needs /static/vendor/echarts.min.js first.
(function () {
  "use strict";
  // Money on charts: an option with `"money": {"lang": "zh-CN"|"en", "axis": "y"|"x"}` holds
  // amounts in yuan; its value axis and tooltips show them short, by the rules of the
  // server's Tr::money_short: 万 / 亿 in Chinese, K / M / B in English, two decimals at most
  // (trailing zeros dropped), whole yuan below the smallest unit.
  var UNITS = {
    zh: [[1e8, "亿"], [1e4, "万"]],
    en: [[1e9, "B"], [1e6, "M"], [1e3, "K"]],
  };
  function shortYuan(lang, value) {
    if (value === null || value === undefined || value === "" || isNaN(value)) return "";
    var v = Number(value);
    var sign = v < 0 ? "-" : "";
    var abs = Math.abs(v);
    var units = UNITS[lang === "en" ? "en" : "zh"];
    for (var i = 0; i < units.length; i++) {
      if (abs >= units[i][0]) {
        var n = Math.round((abs / units[i][0]) * 100) / 100;
        return sign + "¥" + String(n) + units[i][1];
      }
    }
    return sign + "¥" + String(Math.round(abs));
  }
  function moneyAxes(option) {
    var m = option.money;
    if (!m) return;
    delete option.money;
    var fmt = function (v) { return shortYuan(m.lang, v); };
    var axes = option[(m.axis || "y") + "Axis"];
    (Array.isArray(axes) ? axes.slice(0, 1) : [axes]).forEach(function (axis) {
      if (!axis) return;
      axis.axisLabel = axis.axisLabel || {};
      axis.axisLabel.formatter = fmt;
    });
    option.tooltip = option.tooltip || {};
    option.tooltip.valueFormatter = fmt;
  }
  function draw(root) {
    (root || document).querySelectorAll("[data-chart]").forEach(function (el) {
      if (typeof echarts === "undefined") return;
      var option;
      try {
        option = JSON.parse(el.getAttribute("data-chart"));
      } catch (e) {
        el.textContent = String(e);
        return;
      }
      var chart = echarts.getInstanceByDom(el) || echarts.init(el, null, { renderer: "svg" });
      option.animation = false;
      moneyAxes(option);
      chart.setOption(option, true);
      el.setAttribute("data-chart-ready", "1");
    });
  }
  window.addEventListener("resize", function () {
    document.querySelectorAll("[data-chart-ready]").forEach(function (el) {
      var chart = typeof echarts !== "undefined" && echarts.getInstanceByDom(el);
      if (chart) chart.resize();
    });
  });
  document.addEventListener("DOMContentLoaded", function () { draw(document); });
  document.addEventListener("htmx:afterSettle", function (e) { draw(e.target); });
  window.shangjiCharts = { draw: draw, shortYuan: shortYuan };
})();
