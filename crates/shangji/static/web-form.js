// The public web-to-lead form: tells a page that embeds it how tall it is (the embed
// snippet's frame grows to fit).
if (window.parent !== window) {
  window.parent.postMessage({ shangjiFormHeight: document.documentElement.scrollHeight }, "*");
}
