// Charts on report pages: every element with `data-chart` holds an ECharts option as JSON
// (built by the server, texts already in the user's language). Charts are drawn on load and
// after htmx swaps, and follow the window's size. Needs /static/vendor/echarts.min.js first.
(function () {
  "use strict";
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
  window.shangjiCharts = { draw: draw };
})();
