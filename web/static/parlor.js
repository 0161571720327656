// agriops parlor page: live figures and the bail ring from the page's event stream
// (`data-parlor-events` on the bail ring). A file of its own, not inline, so the page's
// Content-Security-Policy can forbid inline scripts.
(function () {
  var box = document.getElementById('bail-ring');
  if (!box || !window.EventSource) return;
  var url = box.getAttribute('data-parlor-events');
  if (!url) return;
  var es = new EventSource(url);
  es.addEventListener('summary', function (e) {
    var d = JSON.parse(e.data).display;
    document.querySelectorAll('[data-field]').forEach(function (el) {
      var v = d[el.getAttribute('data-field')];
      if (v !== undefined && el.textContent !== v) el.textContent = v;
    });
  });
  es.addEventListener('bails', function (e) {
    var old = box.querySelector('details');
    var open = old && old.open;
    box.innerHTML = JSON.parse(e.data).html;
    var d = box.querySelector('details');
    if (open && d) d.open = true;
  });
})();
