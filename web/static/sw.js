// The service worker (served at /sw.js, scope /): shows each alert pushed to this browser as
// a notification and opens its page when the notification is tapped (its acknowledge action
// opens the signed acknowledge link, which asks before it changes anything). The payload is
// JSON made by the server: title, body, url, tag, event and, for an opening, ack_url and
// ack_title. When the push service ends this browser's subscription (pushsubscriptionchange),
// it subscribes again under the same server key and has the server replace the old endpoint
// by the new one: signed in (the session cookie), with the CSRF token the server gives its
// own pages' scripts (GET /alerts/push/csrf, unreadable to other sites), so only this user's
// own subscription on that farm is changed. What it needs (the farm's replace address, the
// server key, the endpoint) push.js keeps in the cache 'agriops-push' when it subscribes.
'use strict';

var STATE = '/agriops-push-state';

function b64bytes(b64url) {
  var s = b64url.replace(/-/g, '+').replace(/_/g, '/');
  while (s.length % 4) s += '=';
  var raw = atob(s);
  var out = new Uint8Array(raw.length);
  for (var i = 0; i < raw.length; i++) out[i] = raw.charCodeAt(i);
  return out;
}

function keep(state) {
  return caches.open('agriops-push').then(function (c) {
    return c.put(STATE, new Response(JSON.stringify(state), { headers: { 'Content-Type': 'application/json' } }));
  });
}

function kept() {
  return caches.open('agriops-push')
    .then(function (c) { return c.match(STATE); })
    .then(function (r) { return r ? r.json() : null; });
}

self.addEventListener('pushsubscriptionchange', function (event) {
  event.waitUntil(kept().then(function (state) {
    if (!state || !state.replace || !state.key) return null;
    var old = (event.oldSubscription && event.oldSubscription.endpoint) || state.endpoint || '';
    var fresh = event.newSubscription
      ? Promise.resolve(event.newSubscription)
      : self.registration.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: b64bytes(state.key) });
    return Promise.all([
      fresh,
      fetch('/alerts/push/csrf', { credentials: 'same-origin' }).then(function (r) {
        if (!r.ok) throw new Error('not signed in');
        return r.json();
      }),
    ]).then(function (got) {
      var j = got[0].toJSON();
      var body = new URLSearchParams({
        csrf: got[1].csrf, old_endpoint: old, endpoint: j.endpoint, p256dh: j.keys.p256dh, auth: j.keys.auth,
      });
      return fetch(state.replace, { method: 'POST', body: body, credentials: 'same-origin' }).then(function (r) {
        if (!r.ok) throw new Error('replace refused: ' + r.status);
        state.endpoint = j.endpoint;
        return keep(state);
      });
    });
  }));
});

self.addEventListener('install', function () { self.skipWaiting(); });
self.addEventListener('activate', function (event) { event.waitUntil(self.clients.claim()); });

// Only links to this site are opened.
function ours(url) {
  try {
    return new URL(url, self.location.origin).origin === self.location.origin ? url : '/';
  } catch (e) {
    return '/';
  }
}

self.addEventListener('push', function (event) {
  var data = {};
  try {
    data = event.data ? event.data.json() : {};
  } catch (e) {
    data = { title: event.data ? event.data.text() : '' };
  }
  var options = {
    body: data.body || '',
    tag: data.tag || undefined,
    renotify: !!data.tag,
    lang: 'ja',
    data: { url: data.url || '/', ack: data.ack_url || null },
  };
  if (data.ack_url) options.actions = [{ action: 'ack', title: data.ack_title || '確認済みにする' }];
  event.waitUntil(self.registration.showNotification(data.title || 'agriops', options));
});

self.addEventListener('notificationclick', function (event) {
  event.notification.close();
  var d = event.notification.data || {};
  var url = ours(event.action === 'ack' && d.ack ? d.ack : d.url || '/');
  event.waitUntil(
    self.clients.matchAll({ type: 'window', includeUncontrolled: true }).then(function (list) {
      for (var i = 0; i < list.length; i++) {
        if (list[i].url === url && 'focus' in list[i]) return list[i].focus();
      }
      return self.clients.openWindow(url);
    })
  );
});
