// The alert settings page's push section: registers the service worker (/sw.js, scope /),
// shows whether this browser is subscribed, and subscribes it with the server's VAPID public
// key or unsubscribes it, posting the subscription with the page's CSRF token. The words come
// from the section's data- attributes, in the page's language. Without this script the page
// says that push needs JavaScript, and the subscribed devices can still be removed by form.
(function () {
  'use strict';
  var root = document.getElementById('push');
  var controls = document.getElementById('push-controls');
  if (!root || !controls) return;
  var d = root.dataset;
  var status = document.getElementById('push-status');
  var on = document.getElementById('push-on');
  var off = document.getElementById('push-off');
  controls.hidden = false;
  function say(text) { status.textContent = text; }
  if (!('serviceWorker' in navigator) || !('PushManager' in window) || !('Notification' in window)) {
    say(d.msgUnsupported);
    return;
  }

  function bytes(b64url) {
    var s = b64url.replace(/-/g, '+').replace(/_/g, '/');
    while (s.length % 4) s += '=';
    var raw = atob(s);
    var out = new Uint8Array(raw.length);
    for (var i = 0; i < raw.length; i++) out[i] = raw.charCodeAt(i);
    return out;
  }

  // The refusal's sentence from the server's error page (its role=alert box).
  function reason(html) {
    try {
      var doc = new DOMParser().parseFromString(html, 'text/html');
      var box = doc.querySelector('[role=alert] code') || doc.querySelector('[role=alert]');
      return box ? box.textContent.trim() : '';
    } catch (e) {
      return '';
    }
  }

  function post(url, fields) {
    var body = new URLSearchParams(fields);
    body.set('csrf', d.csrf);
    return fetch(url, { method: 'POST', body: body, credentials: 'same-origin' }).then(function (r) {
      if (r.ok) return r;
      return r.text().then(function (t) {
        var e = new Error(reason(t));
        e.status = r.status;
        throw e;
      });
    });
  }

  function show(sub) {
    on.hidden = !!sub;
    off.hidden = !sub;
    on.disabled = false;
    off.disabled = false;
    say(sub ? d.msgSubscribed : d.msgNotSubscribed);
  }

  function failed(e) {
    on.disabled = false;
    off.disabled = false;
    say(e && e.denied ? d.msgDenied : d.msgFailed + (e && e.message ? ' ' + e.message : ''));
  }

  var registration = navigator.serviceWorker.register('/sw.js', { scope: '/' });
  registration
    .then(function (reg) { return reg.pushManager.getSubscription(); })
    .then(show, function () { say(d.msgUnsupported); });

  on.addEventListener('click', function () {
    on.disabled = true;
    say(d.msgWorking);
    Promise.resolve(Notification.requestPermission())
      .then(function (permission) {
        if (permission !== 'granted') {
          var e = new Error('');
          e.denied = true;
          throw e;
        }
        return registration;
      })
      .then(function (reg) {
        // A subscription made under another key cannot be reused: drop it first.
        return reg.pushManager.getSubscription()
          .then(function (old) { return old ? old.unsubscribe() : null; })
          .then(function () {
            return reg.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: bytes(d.key) });
          });
      })
      .then(function (sub) {
        var j = sub.toJSON();
        return post(d.subscribe, { endpoint: j.endpoint, p256dh: j.keys.p256dh, auth: j.keys.auth })
          .catch(function (e) { return sub.unsubscribe().then(function () { throw e; }); })
          .then(function () {
            // For the service worker's pushsubscriptionchange: where to replace this endpoint.
            if (!('caches' in window)) return null;
            var state = { replace: d.replace, key: d.key, endpoint: j.endpoint };
            return caches.open('agriops-push').then(function (c) {
              return c.put('/agriops-push-state', new Response(JSON.stringify(state)));
            }).catch(function () { return null; });
          });
      })
      .then(function () { window.location.reload(); }, failed);
  });

  off.addEventListener('click', function () {
    off.disabled = true;
    say(d.msgWorking);
    registration
      .then(function (reg) { return reg.pushManager.getSubscription(); })
      .then(function (sub) {
        if (!sub) return null;
        return post(d.unsubscribe, { endpoint: sub.endpoint })
          .catch(function (e) { if (e.status !== 404) throw e; })
          .then(function () { return sub.unsubscribe(); });
      })
      .then(function () { window.location.reload(); }, failed);
  });
})();
