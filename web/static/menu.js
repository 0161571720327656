// The site menu is a <details>: it works without this script. On a wide screen the stylesheet
// shows its contents inline (::details-content); where a browser cannot do that, keep the
// menu open while the screen is wide, and closed again when it narrows.
(function () {
  'use strict';
  var menu = document.getElementById('site-menu');
  if (!menu || !window.matchMedia) return;
  var supported = window.CSS && CSS.supports && CSS.supports('selector(::details-content)');
  if (supported) return;
  var wide = window.matchMedia('(min-width: 40em)');
  function sync() { menu.open = wide.matches; }
  sync();
  if (wide.addEventListener) wide.addEventListener('change', sync);
})();
