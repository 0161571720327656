// agriops plan preview: while the plan form is being filled in, its values are planned on the
// server without saving (POST data-preview, 300 ms after the last change, one request at a
// time), the route is drawn on the field's map and the estimate panel (an aria-live region)
// shows the figures. The swath heading can be set by dragging the round handle on the map, as
// in QGroundControl's survey; the number input stays for the keyboard. Without this script the
// form posts as before and the panel stays hidden.
(function () {
  'use strict';
  var form = document.getElementById('plan-form');
  var panel = document.getElementById('plan-preview');
  if (!form || !panel || !window.fetch || !window.URLSearchParams || !window.FormData) return;
  var url = form.getAttribute('data-preview');
  var live = document.getElementById('preview-estimate');
  var status = document.getElementById('preview-status');
  var rxNote = document.getElementById('preview-rx-note');
  var rxInput = document.getElementById('prescription');
  var headingInput = document.getElementById('heading_deg');
  var headingSet = document.getElementById('heading-set');
  var headingAuto = document.getElementById('heading-auto');
  var hint = document.getElementById('heading-drag-hint');
  panel.hidden = false;

  var map = (window.agriopsMaps || {}).map;
  var canDrag = !!(map && window.L && headingInput && headingSet);
  if (hint && canDrag) hint.hidden = false;

  // --- the request ---------------------------------------------------------------------
  function body() {
    var params = new URLSearchParams();
    new FormData(form).forEach(function (v, k) {
      if (typeof v === 'string') params.append(k, v); // files are not previewed
    });
    return params.toString();
  }

  var timer = null;
  var inFlight = false;
  var again = false;

  function schedule() {
    clearTimeout(timer);
    timer = setTimeout(run, 300);
  }

  function run() {
    if (inFlight) { again = true; return; }
    inFlight = true;
    live.setAttribute('aria-busy', 'true');
    setStatus(panel.getAttribute('data-working'), false);
    fetch(url, {
      method: 'POST',
      credentials: 'same-origin',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded', Accept: 'application/json' },
      body: body(),
    })
      .then(function (r) {
        return r.json().then(function (j) { return { ok: r.ok, j: j }; }, function () { return { ok: false, j: null }; });
      })
      .then(function (res) { if (res.ok) show(res.j); else refused(res.j); }, function () { refused(null); })
      .then(function () {
        inFlight = false;
        live.removeAttribute('aria-busy');
        if (again) { again = false; run(); }
      });
  }

  // --- the panel -----------------------------------------------------------------------
  function setStatus(text, bad) {
    status.textContent = text || '';
    status.className = bad ? 'alert' : 'muted';
  }

  function figures(shown) {
    live.querySelectorAll('[data-estimate]').forEach(function (dd) {
      var v = shown && shown[dd.getAttribute('data-estimate')];
      dd.textContent = v == null ? '—' : v;
    });
  }

  function show(j) {
    var e = j && j.estimate;
    if (!e) { refused(null); return; }
    figures(e.shown);
    setStatus(panel.getAttribute('data-updated'), false);
    if (headingAuto && headingAuto.checked && headingInput) {
      // The planner's choice, so switching to a set heading starts from it.
      headingInput.value = String(Math.round(e.heading_deg));
    }
    draw(j.geojson);
    placeHandle();
  }

  function refused(j) {
    figures(null);
    var text = j && j.error ? j.error + (j.detail ? ' ' + j.detail : '') : panel.getAttribute('data-unreachable');
    setStatus(text, true);
    if (route && map) { map.removeLayer(route); route = null; }
  }

  // --- the map -------------------------------------------------------------------------
  var route = null;
  var handle = null;
  var axis = null;
  var centre = null;
  var radius = 0;
  var M_PER_DEG = 111320;

  function draw(gj) {
    if (!map || !window.L || !gj) return;
    if (route) map.removeLayer(route);
    route = L.geoJSON(gj, {
      interactive: false,
      filter: function (f) {
        var k = (f.properties || {}).kind;
        return k === 'path' || k === 'sprayable' || k === 'refill';
      },
      style: window.agriopsMapStyle,
      pointToLayer: function (f, latlng) {
        return L.circleMarker(latlng, { radius: 7, color: '#0d47a1', interactive: false });
      },
    }).addTo(map);
    if (!centre) {
      var field = (gj.features || []).filter(function (f) { return (f.properties || {}).kind === 'field'; })[0];
      var b = field && L.geoJSON(field).getBounds();
      if (b && b.isValid()) centre = b.getCenter();
    }
  }

  // The dial's radius: well inside the map as it is shown, so the handle is always in reach.
  function dialRadius() {
    var v = map.getBounds();
    var w = map.distance(v.getSouthWest(), v.getSouthEast());
    var h = map.distance(v.getSouthWest(), v.getNorthWest());
    return 0.38 * Math.min(w, h);
  }

  function at(h, r) {
    var rad = h * Math.PI / 180;
    var cos = Math.cos(centre.lat * Math.PI / 180);
    return L.latLng(centre.lat + r * Math.cos(rad) / M_PER_DEG, centre.lng + r * Math.sin(rad) / (M_PER_DEG * cos));
  }

  function headingOf(latlng) {
    var north = (latlng.lat - centre.lat) * M_PER_DEG;
    var east = (latlng.lng - centre.lng) * M_PER_DEG * Math.cos(centre.lat * Math.PI / 180);
    var h = Math.round(Math.atan2(east, north) * 180 / Math.PI);
    return ((h % 360) + 360) % 360;
  }

  function currentHeading() {
    var h = Number(headingInput.value);
    return isFinite(h) ? h : 0;
  }

  function showAxis(h) {
    var line = [at(h + 180, radius), at(h, radius)];
    if (axis) axis.setLatLngs(line);
    else axis = L.polyline(line, { color: '#f9a825', weight: 3, opacity: 0.9, interactive: false }).addTo(map);
  }

  function placeHandle() {
    if (!canDrag || !centre) return;
    radius = dialRadius();
    if (!(radius > 0)) return;
    var h = currentHeading();
    showAxis(h);
    if (handle) { handle.setLatLng(at(h, radius)); return; }
    handle = L.marker(at(h, radius), {
      draggable: true,
      keyboard: false, // the heading input is the keyboard's way
      zIndexOffset: 1000,
      icon: L.divIcon({ className: 'heading-handle', iconSize: [44, 44] }),
    }).addTo(map);
    var el = handle.getElement();
    if (el) el.setAttribute('aria-hidden', 'true');
    handle.on('drag', function () {
      var d = headingOf(handle.getLatLng());
      headingInput.value = String(d);
      headingSet.checked = true;
      showAxis(d);
    });
    handle.on('dragend', function () {
      handle.setLatLng(at(currentHeading(), radius));
      schedule();
    });
  }

  // --- wiring --------------------------------------------------------------------------
  function onChange(ev) {
    if (ev && ev.target === headingInput) {
      if (headingSet) headingSet.checked = true;
      placeHandle();
    }
    if (rxNote && rxInput) rxNote.hidden = !(rxInput.files && rxInput.files.length);
    schedule();
  }
  if (canDrag) map.on('zoomend', placeHandle);
  form.addEventListener('input', onChange);
  form.addEventListener('change', onChange);
  run();
})();
