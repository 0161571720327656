// agriops live flight page: one SSE stream updates the text values, the problem alert, the
// verified counts, which controls are shown, the vehicle marker and the sprayed area on the map,
// and appends new vehicle messages to the aria-live log.
(function () {
  'use strict';
  var root = document.getElementById('live');
  if (!root || !window.EventSource) return;
  var log = document.getElementById('messages');
  var seen = Number(log && log.getAttribute('data-count')) || 0;
  var marker = null;
  var sprayed = null;
  var trail = null;

  function show(id, on) {
    var el = document.getElementById(id);
    if (el) el.hidden = !on;
  }

  function update(msg) {
    var l = msg.live, d = msg.display;
    root.querySelectorAll('[data-live]').forEach(function (el) {
      var v = d[el.getAttribute('data-live')];
      if (v !== undefined && el.textContent !== v) el.textContent = v;
    });
    var problem = document.getElementById('problem');
    if (problem) {
      problem.hidden = !l.error;
      var span = problem.querySelector('[data-live-error]');
      // The display's error is worded in the page's language where the server knows how.
      var text = d.error || l.error;
      if (span && text && span.textContent !== text) span.textContent = text;
    }
    var ended = l.phase === 'ended';
    show('verified', !!l.verified && !ended);
    show('start-form', l.phase === 'verified');
    show('controls', ['flying', 'paused', 'returning', 'starting'].indexOf(l.phase) >= 0);
    show('record-link', ended);
    if (log && l.message_count > seen) {
      var fresh = l.messages.slice(Math.max(0, l.messages.length - (l.message_count - seen)));
      fresh.forEach(function (t) {
        var li = document.createElement('li');
        li.textContent = t;
        log.appendChild(li);
      });
      seen = l.message_count;
    }
    var map = (window.agriopsMaps || {})[root.getAttribute('data-map-id')];
    if (map && window.L) {
      if (l.lat !== null && l.lon !== null && l.lat !== undefined) {
        var at = [l.lat, l.lon];
        if (!marker) {
          marker = L.circleMarker(at, { radius: 9, color: '#b71c1c', weight: 3 }).addTo(map);
          marker.bindTooltip(d.spray);
          trail = L.polyline([at], { color: '#212121', weight: 2 }).addTo(map);
        } else {
          marker.setLatLng(at);
          marker.setTooltipContent(d.spray);
          trail.addLatLng(at);
        }
      }
      if (l.coverage) {
        if (sprayed) map.removeLayer(sprayed);
        sprayed = L.geoJSON(l.coverage, {
          // The sprayed area fills in; the planned area is already drawn by the plan's layer.
          filter: function (f) {
            var k = (f.properties || {}).kind;
            return k === 'sprayed' || k === 'overlap';
          },
          style: function (f) {
            var k = (f.properties || {}).kind;
            if (k === 'overlap') return { color: '#6a1b9a', weight: 1, fillOpacity: 0.3 };
            return { color: '#e65100', weight: 1, fillColor: '#ffb74d', fillOpacity: 0.45 };
          },
        }).addTo(map);
      }
    }
    if (ended) es.close();
  }

  var es = new EventSource(root.getAttribute('data-events'));
  es.addEventListener('live', function (e) { update(JSON.parse(e.data)); });
})();
