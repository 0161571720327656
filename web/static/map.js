// agriops maps: Leaflet over the configured tiles (GSI 地理院タイル in production) or a plain
// background when none is set, our own GeoJSON styled by its `kind`, and a click-to-draw tool.
(function () {
  'use strict';
  var STYLE = {
    field: { color: '#1b5e20', weight: 3, fill: false },
    sprayable: { color: '#2e7d32', weight: 1, fillColor: '#a5d6a7', fillOpacity: 0.35 },
    exclusion: { color: '#b71c1c', weight: 2, fillColor: '#ef9a9a', fillOpacity: 0.5 },
    sensitive: { color: '#e65100', weight: 2, dashArray: '4 4', fillColor: '#ffcc80', fillOpacity: 0.3 },
    refill: { color: '#0d47a1' },
  };
  var SORTIE_COLORS = ['#0b5394', '#6a1b9a', '#00695c', '#ad1457', '#4e342e', '#283593'];

  function style(feature) {
    var p = feature.properties || {};
    if (p.kind === 'track') {
      return p.spray ? { color: '#e65100', weight: 5, opacity: 0.8 } : { color: '#212121', weight: 2, dashArray: '2 6' };
    }
    if (p.kind === 'rx_zone') {
      // Prescription zones: filled by rate (darker = more), numbered as in the zone table.
      return { color: '#263238', weight: 1, fillColor: p.fill || '#f5f5f5', fillOpacity: 0.55, dashArray: p.no_spray ? '3 3' : null };
    }
    if (p.kind === 'path') {
      if (p.spray) {
        return { color: SORTIE_COLORS[((p.sortie || 1) - 1) % SORTIE_COLORS.length], weight: 3 };
      }
      return { color: '#616161', weight: 2, dashArray: '6 6' };
    }
    return STYLE[p.kind] || STYLE[p.role] || STYLE.field;
  }

  // The plan preview (preview.js) draws its route in the same styles.
  window.agriopsMapStyle = style;

  // A note under the map saying why it has no background (the page's language, from the
  // #map-notes template), instead of a grey square that looks broken.
  function note(el, key) {
    var notes = document.getElementById('map-notes');
    var text = notes && notes.getAttribute(key);
    if (!text || el.nextElementSibling && el.nextElementSibling.classList.contains('map-note')) return;
    var p = document.createElement('p');
    p.className = 'map-note muted';
    p.setAttribute('role', 'status');
    p.textContent = text;
    el.parentNode.insertBefore(p, el.nextSibling);
  }

  function makeMap(el) {
    var map = L.map(el, { keyboard: true });
    var tiles = el.getAttribute('data-tile-url');
    if (tiles) {
      var layer = L.tileLayer(tiles, {
        maxZoom: 18,
        attribution: '<a href="https://maps.gsi.go.jp/development/ichiran.html">地理院タイル</a>',
      }).addTo(map);
      // Some tiles failing is normal at the cache's edge; none arriving is no background.
      var loaded = 0, failed = 0;
      layer.on('tileload', function () { loaded += 1; });
      layer.on('tileerror', function () {
        failed += 1;
        if (loaded === 0 && failed >= 4) {
          el.style.background = '#eef3e8';
          note(el, 'data-no-tiles');
        }
      });
    } else {
      el.style.background = '#eef3e8';
      note(el, 'data-tiles-off');
    }
    map.setView([36.97, 139.98], 13); // Nasushiobara until data arrives.
    return map;
  }

  function load(map, url) {
    return fetch(url, { credentials: 'same-origin' })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (data) {
        if (!data) return;
        var layer = L.geoJSON(data, {
          style: style,
          pointToLayer: function (f, latlng) { return L.circleMarker(latlng, { radius: 7, color: '#0d47a1' }); },
          onEachFeature: function (f, l) {
            var p = f.properties || {};
            if (p.kind === 'rx_zone' && p.label != null) {
              l.bindTooltip(String(p.label), { permanent: true, direction: 'center', className: 'rx-label' });
              l.bindPopup(String(p.name || p.label));
            } else if (p.name || p.field_id) l.bindTooltip(String(p.name || p.field_id));
            if (p.href) l.on('click', function () { window.location = p.href; });
          },
        }).addTo(map);
        var b = layer.getBounds();
        if (!b.isValid()) return;
        var far = map.getContainer().hasAttribute('data-fit-cluster') ? farFields(layer) : null;
        if (far && far.far.length) {
          map.fitBounds(far.main, { padding: [16, 16] });
          farControls(map, far.far, b);
        } else {
          map.fitBounds(b, { padding: [16, 16] });
        }
      });
  }

  // A field this far (metres) from the middle of a farm's fields is not fitted into the usual
  // view: a paddy 30 km away would shrink every other field to a dot.
  var FAR_M = 10000;

  // The fields (features with a link) split into the main group, as bounds, and the far ones;
  // null when there is no main group to fit (all far apart, or fewer than two fields near).
  function farFields(layer) {
    var items = [];
    layer.eachLayer(function (l) {
      var p = (l.feature && l.feature.properties) || {};
      if (p.href && l.getBounds) items.push({ name: String(p.name || ''), bounds: l.getBounds() });
    });
    if (items.length < 3) return null;
    function median(xs) {
      xs = xs.slice().sort(function (a, b) { return a - b; });
      var m = Math.floor(xs.length / 2);
      return xs.length % 2 ? xs[m] : (xs[m - 1] + xs[m]) / 2;
    }
    var centres = items.map(function (i) { return i.bounds.getCenter(); });
    var mid = L.latLng(median(centres.map(function (c) { return c.lat; })), median(centres.map(function (c) { return c.lng; })));
    var main = null, far = [];
    items.forEach(function (item, k) {
      if (centres[k].distanceTo(mid) > FAR_M) {
        far.push(item);
      } else {
        main = main ? main.extend(item.bounds) : L.latLngBounds(item.bounds.getSouthWest(), item.bounds.getNorthEast());
      }
    });
    if (!main || far.length * 2 >= items.length) return null;
    return { main: main, far: far };
  }

  // Under the map: one button per far field that brings the map to it, and one that shows all.
  function farControls(map, far, all) {
    var el = map.getContainer();
    var notes = document.getElementById('map-notes');
    var box = document.createElement('div');
    box.className = 'map-far';
    var p = document.createElement('p');
    p.textContent = notes ? notes.getAttribute('data-far-fields') : '';
    box.appendChild(p);
    var list = document.createElement('ul');
    list.className = 'inline';
    function button(text, onClick) {
      var li = document.createElement('li');
      var b = document.createElement('button');
      b.type = 'button';
      b.className = 'secondary';
      b.textContent = text;
      b.addEventListener('click', onClick);
      li.appendChild(b);
      list.appendChild(li);
    }
    far.forEach(function (f) {
      button(f.name, function () { map.fitBounds(f.bounds, { padding: [16, 16] }); el.focus(); });
    });
    button(notes ? notes.getAttribute('data-show-all') : '', function () { map.fitBounds(all, { padding: [16, 16] }); el.focus(); });
    box.appendChild(list);
    el.parentNode.insertBefore(box, el.nextSibling);
  }

  function drawTool(map, el) {
    var target = document.getElementById(el.getAttribute('data-draw-target'));
    var clear = document.getElementById(el.getAttribute('data-draw-clear'));
    if (!target) return;
    var pts = [];
    var shape = null;
    function render() {
      if (shape) map.removeLayer(shape);
      shape = pts.length >= 3 ? L.polygon(pts, STYLE.field) : L.polyline(pts, STYLE.field);
      shape.addTo(map);
      if (pts.length >= 3) {
        var ring = pts.map(function (p) { return [p[1], p[0]]; });
        ring.push(ring[0]);
        target.value = JSON.stringify({
          type: 'Feature', properties: {}, geometry: { type: 'Polygon', coordinates: [ring] },
        });
      }
    }
    map.on('click', function (e) { pts.push([e.latlng.lat, e.latlng.lng]); render(); });
    if (clear) clear.addEventListener('click', function () { pts = []; target.value = ''; render(); });
  }

  document.querySelectorAll('[data-map]').forEach(function (el) {
    if (!window.L) return;
    var map = makeMap(el);
    window.agriopsMaps = window.agriopsMaps || {};
    if (el.id) window.agriopsMaps[el.id] = map;
    var url = el.getAttribute('data-geojson-url');
    if (url) load(map, url);
    if (el.hasAttribute('data-draw-target')) drawTool(map, el);
  });

  // Replay of a flown track: a slider moves a marker along the samples.
  document.querySelectorAll('[data-replay]').forEach(function (input) {
    var map = (window.agriopsMaps || {})[input.getAttribute('data-map-id')];
    var out = document.getElementById(input.getAttribute('data-output'));
    if (!map || !window.L) return;
    fetch(input.getAttribute('data-replay'), { credentials: 'same-origin' })
      .then(function (r) { return r.ok ? r.json() : []; })
      .then(function (pts) {
        if (!pts.length) return;
        input.max = String(pts.length - 1);
        var marker = L.circleMarker([pts[0][0], pts[0][1]], { radius: 9, color: '#b71c1c', weight: 3 }).addTo(map);
        function show() {
          var p = pts[Number(input.value)] || pts[0];
          marker.setLatLng([p[0], p[1]]);
          if (out) out.textContent = p[3] + (p[2] ? ' ●' : ' ○');
        }
        input.addEventListener('input', show);
        show();
      });
  });
})();
