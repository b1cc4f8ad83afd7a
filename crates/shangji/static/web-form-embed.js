// The embed snippet of a shangji web-to-lead form: a frame with the form where this script
// tag stands. The page's UTM parameters and address go with it, so that the lead keeps them;
// the frame grows to the height the form reports.
(function () {
  var me = document.currentScript;
  var params = new URLSearchParams(window.location.search);
  var carried = new URLSearchParams();
  __UTM_KEYS__.forEach(function (k) {
    if (params.get(k)) carried.set(k, params.get(k));
  });
  carried.set("referrer", window.location.href);
  var frame = document.createElement("iframe");
  frame.src = __FORM_URL__ + "?" + carried.toString();
  frame.title = "form";
  frame.style.width = "100%";
  frame.style.minHeight = "420px";
  frame.style.border = "0";
  frame.setAttribute("data-shangji-form", "");
  window.addEventListener("message", function (e) {
    if (e.source === frame.contentWindow && e.data && e.data.shangjiFormHeight) {
      frame.style.height = e.data.shangjiFormHeight + "px";
    }
  });
  me.parentNode.insertBefore(frame, me.nextSibling);
})();
