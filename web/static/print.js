// agriops: buttons marked `data-print` print the page (instead of an inline onclick, which the
// Content-Security-Policy forbids).
(function () {
  document.querySelectorAll('[data-print]').forEach(function (b) {
    b.addEventListener('click', function () { window.print(); });
  });
})();
